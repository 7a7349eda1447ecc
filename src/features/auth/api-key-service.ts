// API keys: authentication of requests, creation, listing, revocation and the bootstrap admin key.
import { AppError } from "../../shared/errors";
import type { Logger } from "../../shared/logger";
import type { Database } from "../../db/database";
import { type Actor, appendAudit } from "../audit/audit-log";
import { type Scope, generateKey, hasScope, hashSecret, parseKey, secretMatches } from "./api-key";
import type { ApiKeyView, CreatedKey } from "./key-views";

export type Principal = { keyId: string; name: string; scopes: string[]; actor: string };

export type { ApiKeyView } from "./key-views";

/** lastUsedAt is written at most this often per key, so authentication stays a read. */
const lastUsedResolutionMs = 60_000;

/**
 * A key's stored row is kept in memory this long after it was read: the gateway's every request
 * authenticates, and must not wait on a database busy with ingestion and evaluation. A revocation
 * takes effect at once in the process that made it; in the others once a read after this time
 * completes (see keyStaleMs: on a busy database, up to that long).
 */
export const keyCacheMs = 10_000;
/**
 * Past keyCacheMs, a known key is still answered from memory while one read refreshes it in the
 * background, up to this age: a database busy with a long statement (a list import, a backlog on
 * the embedded database) does not stall the gateway's requests at each expiry. Beyond it, the
 * request waits for the read.
 */
export const keyStaleMs = 60_000;

type KeyRow = { id: string; name: string; scopes: string[]; secretHash: string; revokedAt: Date | null; expiresAt: Date | null; lastUsedAt: Date | null };

export function createApiKeyService(db: Database, logger: Logger, opts: { cacheMs?: number } = {}) {
  const { prisma } = db;
  const cacheMs = opts.cacheMs ?? keyCacheMs;
  const cache = new Map<string, { row: KeyRow | null; readAt: number }>();
  const refreshing = new Set<string>();

  /** Bumped by every change this process makes to a key: a read that began before it is not cached. */
  let generation = 0;

  async function read(id: string, now: number): Promise<KeyRow | null> {
    const startedAt = generation;
    const row = await prisma.apiKey.findUnique({ where: { id } });
    // Bounded: unknown ids are cached too (a caller guessing ids must not reach the database each time).
    if (cache.size >= 10_000) cache.clear();
    if (startedAt === generation) cache.set(id, { row, readAt: now });
    return row;
  }

  async function storedKey(id: string, now: number): Promise<KeyRow | null> {
    const hit = cache.get(id);
    if (hit && now - hit.readAt < cacheMs) return hit.row;
    if (hit?.row && now - hit.readAt < Math.max(cacheMs, keyStaleMs)) {
      if (!refreshing.has(id)) {
        refreshing.add(id);
        read(id, now)
          .catch((err: unknown) => logger.warn({ err, keyId: id }, "could not refresh an API key; the next request tries again"))
          .finally(() => refreshing.delete(id));
      }
      return hit.row;
    }
    return read(id, now);
  }

  async function authenticate(authorization: string | undefined, now = new Date()): Promise<Principal> {
    const m = /^Bearer (\S+)$/i.exec(authorization ?? "");
    if (!m) throw new AppError("unauthorized", "send an API key as 'Authorization: Bearer <key>'");
    const parsed = parseKey(m[1]!);
    if (!parsed) throw new AppError("unauthorized", "the API key is not in ClauseGuard's format");
    const row = await storedKey(parsed.id, now.getTime());
    if (!row || !secretMatches(parsed.secret, row.secretHash)) throw new AppError("unauthorized", "the API key is not valid");
    if (row.revokedAt) throw new AppError("unauthorized", "the API key was revoked");
    if (row.expiresAt && row.expiresAt <= now) throw new AppError("unauthorized", "the API key has expired");
    if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > lastUsedResolutionMs) {
      // Bookkeeping, not part of the answer: the request does not wait for it.
      row.lastUsedAt = now;
      prisma.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: now } }).catch((err: unknown) => logger.warn({ err, keyId: row.id }, "could not record the key's last use"));
    }
    return { keyId: row.id, name: row.name, scopes: row.scopes, actor: `key:${row.id}` };
  }

  /** Passes when the principal holds any one of the scopes. */
  function authorize(principal: Principal, ...anyOf: Scope[]): void {
    if (!anyOf.some((s) => hasScope(principal.scopes, s))) {
      const names = anyOf.map((s) => `'${s}'`).join(" or ");
      throw new AppError("forbidden", `this API key needs the ${names} scope`, undefined, { requiredScope: anyOf });
    }
  }

  async function createKey(input: { name: string; scopes: Scope[]; expiresAt?: Date }, { actor, requestId }: Actor): Promise<CreatedKey> {
    const generated = generateKey();
    await db.transaction({ orm: true }, async ({ prisma: tx }) => {
      await tx.apiKey.create({
        data: { id: generated.id, name: input.name, secretHash: generated.secretHash, scopes: input.scopes, createdBy: actor, expiresAt: input.expiresAt ?? null },
      });
      await appendAudit(tx, { actor, requestId, action: "key.create", targetType: "api_key", targetId: generated.id, after: { name: input.name, scopes: input.scopes, expiresAt: input.expiresAt } });
    });
    return { id: generated.id, key: generated.key };
  }

  /** Every key, oldest first, its times as ISO strings (as the API and the CLI print them). */
  async function listKeys(): Promise<ApiKeyView[]> {
    const rows = await prisma.apiKey.findMany({
      orderBy: { createdAt: "asc" },
      select: { id: true, name: true, scopes: true, createdAt: true, createdBy: true, lastUsedAt: true, expiresAt: true, revokedAt: true },
    });
    const iso = (d: Date | null) => d?.toISOString() ?? null;
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      scopes: r.scopes as Scope[],
      createdAt: r.createdAt.toISOString(),
      createdBy: r.createdBy,
      lastUsedAt: iso(r.lastUsedAt),
      expiresAt: iso(r.expiresAt),
      revokedAt: iso(r.revokedAt),
    }));
  }

  async function revokeKey(id: string, { actor, requestId }: Actor, now = new Date()): Promise<void> {
    await db.transaction({ orm: true }, async ({ prisma: tx }) => {
      const row = await tx.apiKey.findUnique({ where: { id } });
      if (!row) throw new AppError("not_found", `API key '${id}' does not exist`);
      if (row.revokedAt) return;
      await tx.apiKey.update({ where: { id }, data: { revokedAt: now } });
      await appendAudit(tx, { actor, requestId, action: "key.revoke", targetType: "api_key", targetId: id, before: { revokedAt: null }, after: { revokedAt: now } });
    });
    generation++;
    cache.delete(id);
  }

  /**
   * Makes sure an admin can get in: the configured CLAUSEGUARD_ADMIN_KEY is stored (hashed), or on
   * an empty database a new admin key is generated and returned so the caller can print it once.
   */
  async function bootstrapAdminKey(configuredKey: string | undefined): Promise<{ generatedKey?: string }> {
    if (configuredKey) {
      const parsed = parseKey(configuredKey);
      if (!parsed) throw new Error("CLAUSEGUARD_ADMIN_KEY is not a ClauseGuard key");
      const existing = await prisma.apiKey.findUnique({ where: { id: parsed.id } });
      if (existing) {
        // A key revoked through the API stays revoked, even if the environment still names it.
        if (existing.revokedAt || !secretMatches(parsed.secret, existing.secretHash)) {
          logger.warn({ keyId: parsed.id }, "CLAUSEGUARD_ADMIN_KEY names a key that is revoked or differs from the stored one; it will not authenticate");
        }
        return {};
      }
      await db.transaction({ orm: true }, async ({ prisma: tx }) => {
        await tx.apiKey.create({
          data: { id: parsed.id, name: "bootstrap admin", secretHash: hashSecret(parsed.secret), scopes: ["admin"], createdBy: "env:CLAUSEGUARD_ADMIN_KEY" },
        });
        await appendAudit(tx, { actor: "env:CLAUSEGUARD_ADMIN_KEY", action: "key.create", targetType: "api_key", targetId: parsed.id, after: { name: "bootstrap admin", scopes: ["admin"] } });
      });
      logger.info({ keyId: parsed.id }, "bootstrap admin key from CLAUSEGUARD_ADMIN_KEY stored");
      return {};
    }
    // Two processes starting on an empty database must not both mint a key: serialize on a lock.
    return db.transaction({ orm: true }, async ({ prisma: tx }) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(4236936583016097349)`;
      if ((await tx.apiKey.count()) > 0) return {};
      const generated = generateKey();
      await tx.apiKey.create({
        data: { id: generated.id, name: "bootstrap admin", secretHash: generated.secretHash, scopes: ["admin"], createdBy: "bootstrap" },
      });
      await appendAudit(tx, { actor: "bootstrap", action: "key.create", targetType: "api_key", targetId: generated.id, after: { name: "bootstrap admin", scopes: ["admin"] } });
      return { generatedKey: generated.key };
    });
  }

  return { authenticate, authorize, createKey, listKeys, revokeKey, bootstrapAdminKey };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
