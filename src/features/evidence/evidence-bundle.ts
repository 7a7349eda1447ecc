// The signed evidence bundle of a case (docs/due-process.md#signed-evidence): one self-contained
// JSON document (the case, the full document of each rule version its hits were judged with, every
// kept hit with its fact values and results, the contributing events or their digests, the linked
// accounts as keyed hashes), signed with Ed25519 over its RFC 8785 canonical JSON.
import { createHash, createHmac } from "node:crypto";
import type { Database } from "../../db/database";
import { raw, sql } from "../../db/sql";
import { AppError, notFound } from "../../shared/errors";
import type { ConditionExplanation } from "../../engine/evaluation";
import { toCaseSummary } from "../cases/case-queries";
import { type StoredEventRow, storedEventColumns, storedEventOf } from "../events/stored-event";
import { type SigningKey, type SigningKeys, canonicalDigest, signDocument } from "./signing-keys";
import { type EvidenceBundle, bundleFormat } from "./evidence-views";

/** The key linked accounts are hashed with: derived from the signing key, so only its holder can check an id against a bundle. */
function linkHashKey(key: SigningKey): Buffer {
  const d = key.privateKey.export({ format: "jwk" }).d as string;
  return createHash("sha256").update("clauseguard linked-account hash\0").update(Buffer.from(d, "base64url")).digest();
}

const hmacHex = (key: Buffer, accountId: string) => createHmac("sha256", key).update(accountId, "utf8").digest("hex");

/** The keyed hash of an account id as a bundle lists it. */
export function linkedAccountHash(key: SigningKey, accountId: string): string {
  return hmacHex(linkHashKey(key), accountId);
}

/** `keys`: what bundles are signed with; none: bundles answer 503. */
export function createEvidenceService(db: Database, keys: SigningKeys | undefined) {
  const { prisma } = db;

  async function bundle(caseId: string, now = new Date()): Promise<EvidenceBundle> {
    const signing = keys;
    if (!signing) {
      throw new AppError("unavailable", "evidence signing is not configured: set CLAUSEGUARD_SIGNING_KEY_FILE to an Ed25519 private key (make one with `npx clauseguard evidence keygen --out signing-key.pem`)");
    }
    const c = await prisma.violationCase.findUnique({ where: { id: caseId } });
    if (!c) throw notFound("case", caseId);
    const hits = await prisma.caseEvidence.findMany({ where: { caseId }, orderBy: { id: "desc" } });
    const versions = [...new Set([c.ruleVersion, ...hits.map((h) => h.ruleVersion)])].sort((a, b) => a - b);
    const documents = await prisma.ruleVersion.findMany({ where: { ruleId: c.ruleId, version: { in: versions } }, orderBy: { version: "asc" } });
    const named = [...new Set(hits.flatMap((h) => [h.triggerEventId, ...h.eventIds]))].sort();
    const stored = named.length
      ? (await db.query<StoredEventRow>(sql`SELECT ${raw(storedEventColumns)} FROM usage_event e WHERE e.event_id = ANY(${named}::text[]) ORDER BY e.event_id`)).map(storedEventOf)
      : [];
    const storedIds = new Set(stored.map((e) => e.eventId));
    const missing = named.filter((id) => !storedIds.has(id));
    const digests = missing.length ? await prisma.evidenceEventDigest.findMany({ where: { eventId: { in: missing } }, orderBy: { eventId: "asc" } }) : [];
    const digested = new Set(digests.map((d) => d.eventId));
    const signingKey = signing.current;
    const hashKey = linkHashKey(signingKey);
    const { id, accountId, ruleId, ruleVersion, clause, severity, status, firstSeenAt, lastSeenAt, hitCount, createdAt } = toCaseSummary(c);
    const unsigned = {
      format: bundleFormat,
      generatedAt: now.toISOString(),
      case: { id, accountId, ruleId, ruleVersion, clause, severity, status, firstSeenAt, lastSeenAt, hitCount, createdAt },
      ruleVersions: documents.map((v) => ({ version: v.version, checksum: v.checksum, document: v.document as Record<string, unknown> })),
      hits: hits.map((h) => ({
        id: h.id.toString(),
        ruleVersion: h.ruleVersion,
        triggerEventId: h.triggerEventId,
        occurredAt: h.occurredAt.toISOString(),
        window: h.window,
        conditions: h.conditions as ConditionExplanation[],
        eventIds: h.eventIds,
        recordedAt: h.createdAt.toISOString(),
      })),
      events: stored.map((event) => ({ sha256: canonicalDigest(event), event })),
      eventDigests: digests.map((d) => ({ eventId: d.eventId, sha256: d.sha256 })),
      unavailableEventIds: missing.filter((id) => !digested.has(id)),
      linkedAccounts: { algorithm: "HMAC-SHA256" as const, hashes: (c.linkedAccounts as string[]).map((a) => hmacHex(hashKey, a)).sort() },
    };
    return signDocument(unsigned, signingKey) as EvidenceBundle;
  }

  return { bundle };
}
export type EvidenceService = ReturnType<typeof createEvidenceService>;
