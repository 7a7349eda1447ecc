// Rules and their versions: synchronizes the policy pack into the database (a changed file is a
// new version, an unchanged one is not) and reads the enabled rules with their current version.
import { createHash } from "node:crypto";
import type { Database, Orm } from "../../db/database";
import type { Prisma } from "../../generated/prisma/client";
import { z } from "zod";
import { type RuleDocument, ruleIdPattern } from "../../engine/rule-schema";
import { AppError, notFound, validationFailed } from "../../shared/errors";
import { decodeCursor, encodeCursor } from "../../shared/pagination";
import { type Actor, appendAudit } from "../audit/audit-log";
import type { RuleFile } from "./rule-files";
import type { RulePage, RuleSource, RuleUpdate, RuleVersion, RuleView } from "./rule-views";

/** JSON with object keys sorted, so that formatting and key order do not make a new version. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}

export function ruleChecksum(rule: RuleDocument): string {
  return createHash("sha256").update(canonicalJson(rule)).digest("hex");
}

export type ActiveRule = { rule: RuleDocument; version: number };

export type SyncResult = { created: string[]; updated: string[]; unchanged: string[] };

/** Lock key shared by every process that writes rule versions. */
const ruleWriteLock = 4236936583016097350n;

export function createRuleService(db: Database) {
  const { prisma } = db;
  async function syncRuleFiles(files: RuleFile[], who: Actor = { actor: "rules-dir" }): Promise<SyncResult> {
    const result: SyncResult = { created: [], updated: [], unchanged: [] };
    await writing(async (tx) => {
      for (const { rule } of files) {
        const outcome = await saveVersion(tx, rule, "file", who);
        result[outcome].push(rule.id);
      }
    });
    return result;
  }

  /** Every write of rules holds one lock: versions are numbered without gaps or races. */
  function writing<T>(fn: (tx: Orm) => Promise<T>): Promise<T> {
    return db.transaction({ orm: true }, async ({ prisma: tx }) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${ruleWriteLock})`;
      return fn(tx);
    });
  }

  async function saveVersion(
    tx: Orm,
    rule: RuleDocument,
    source: RuleSource,
    { actor, requestId }: Actor,
  ): Promise<"created" | "updated" | "unchanged"> {
    const checksum = ruleChecksum(rule);
    const existing = await tx.rule.findUnique({ where: { id: rule.id } });
    const document = rule as unknown as Prisma.InputJsonValue;
    if (!existing) {
      await tx.rule.create({ data: { id: rule.id, currentVersion: 1, enabled: rule.enabled, source } });
      await tx.ruleVersion.create({ data: { ruleId: rule.id, version: 1, document, checksum, createdBy: actor } });
      await appendAudit(tx, { actor, requestId, action: "rule.create", targetType: "rule", targetId: rule.id, after: { version: 1, document: rule } });
      return "created";
    }
    const current = await tx.ruleVersion.findUnique({ where: { ruleId_version: { ruleId: rule.id, version: existing.currentVersion } } });
    if (current?.checksum === checksum) return "unchanged";
    const version = existing.currentVersion + 1;
    await tx.ruleVersion.create({ data: { ruleId: rule.id, version, document, checksum, createdBy: actor } });
    await tx.rule.update({ where: { id: rule.id }, data: { currentVersion: version, enabled: rule.enabled, source } });
    await appendAudit(tx, {
      actor,
      requestId,
      action: "rule.version",
      targetType: "rule",
      targetId: rule.id,
      before: { version: existing.currentVersion, document: current?.document },
      after: { version, document: rule },
    });
    return "updated";
  }

  /** The enabled rules with the document of their current version. */
  async function activeRules(): Promise<ActiveRule[]> {
    const rules = await prisma.rule.findMany({ where: { enabled: true }, orderBy: { id: "asc" } });
    if (rules.length === 0) return [];
    const versions = await prisma.ruleVersion.findMany({
      where: { OR: rules.map((r) => ({ ruleId: r.id, version: r.currentVersion })) },
    });
    return versions.map((v) => ({ rule: v.document as unknown as RuleDocument, version: v.version }));
  }

  /** A cheap fingerprint of what is enabled at which version, to notice changes made by any process. */
  async function rulesFingerprint(): Promise<string> {
    const rows = await prisma.rule.findMany({ where: { enabled: true }, select: { id: true, currentVersion: true }, orderBy: { id: "asc" } });
    return rows.map((r) => `${r.id}@${r.currentVersion}`).join(",");
  }

  async function ruleView(id: string, tx: Orm = prisma): Promise<RuleView> {
    const rule = await tx.rule.findUnique({ where: { id } });
    if (!rule) throw notFound("rule", id);
    const current = await tx.ruleVersion.findUniqueOrThrow({ where: { ruleId_version: { ruleId: id, version: rule.currentVersion } } });
    return toRuleView(rule, current);
  }

  async function listRules(q: { limit: number; cursor?: string }): Promise<RulePage> {
    const after = q.cursor ? decodeCursor(q.cursor, z.tuple([z.string().regex(ruleIdPattern)])) : undefined;
    const rules = await prisma.rule.findMany({
      where: after ? { id: { gt: after[0] } } : {},
      orderBy: { id: "asc" },
      take: q.limit + 1,
    });
    const page = rules.slice(0, q.limit);
    const versions = page.length
      ? await prisma.ruleVersion.findMany({ where: { OR: page.map((r) => ({ ruleId: r.id, version: r.currentVersion })) } })
      : [];
    const byId = new Map(versions.map((v) => [v.ruleId, v]));
    const last = page[page.length - 1];
    return {
      items: page.map((r) => toRuleView(r, byId.get(r.id)!)),
      nextCursor: rules.length > q.limit && last ? encodeCursor([last.id]) : null,
    };
  }

  async function listVersions(id: string): Promise<RuleVersion[]> {
    const rule = await prisma.rule.findUnique({ where: { id } });
    if (!rule) throw notFound("rule", id);
    const versions = await prisma.ruleVersion.findMany({ where: { ruleId: id }, orderBy: { version: "desc" } });
    return versions.map((v) => ({
      version: v.version,
      current: v.version === rule.currentVersion,
      checksum: v.checksum,
      createdAt: v.createdAt.toISOString(),
      createdBy: v.createdBy,
      document: v.document as unknown as RuleDocument,
    }));
  }

  /** A new rule through the API; 409 when the id is taken. */
  async function createRule(rule: RuleDocument, who: Actor): Promise<RuleView> {
    return writing(async (tx) => {
      if (await tx.rule.findUnique({ where: { id: rule.id } })) {
        throw new AppError("conflict", `rule '${rule.id}' exists already: PUT /v1/rules/${rule.id} adds a version`);
      }
      await saveVersion(tx, rule, "api", who);
      return ruleView(rule.id, tx);
    });
  }

  /** A new version of an existing rule; an identical document adds none. */
  async function updateRule(id: string, rule: RuleDocument, who: Actor): Promise<RuleUpdate> {
    if (rule.id !== id) throw validationFailed([{ path: "id", message: `must be '${id}', the rule in the path` }]);
    return writing(async (tx) => {
      if (!(await tx.rule.findUnique({ where: { id } }))) throw notFound("rule", id);
      const outcome = await saveVersion(tx, rule, "api", who);
      return { ...(await ruleView(id, tx)), changed: outcome !== "unchanged" };
    });
  }

  /** Turns evaluation of a rule on or off without a new version. */
  async function setEnabled(id: string, enabled: boolean, { actor, requestId }: Actor): Promise<RuleView> {
    return writing(async (tx) => {
      const rule = await tx.rule.findUnique({ where: { id } });
      if (!rule) throw notFound("rule", id);
      if (rule.enabled !== enabled) {
        await tx.rule.update({ where: { id }, data: { enabled } });
        await appendAudit(tx, {
          actor,
          requestId,
          action: enabled ? "rule.enable" : "rule.disable",
          targetType: "rule",
          targetId: id,
          before: { enabled: rule.enabled },
          after: { enabled },
        });
      }
      return ruleView(id, tx);
    });
  }

  /** One stored version of a rule (the current one when `version` is not given). */
  async function ruleVersion(id: string, version?: number): Promise<{ rule: RuleDocument; version: number }> {
    const rule = await prisma.rule.findUnique({ where: { id } });
    if (!rule) throw notFound("rule", id);
    const v = await prisma.ruleVersion.findUnique({ where: { ruleId_version: { ruleId: id, version: version ?? rule.currentVersion } } });
    if (!v) throw notFound("rule version", `${id}@${version}`);
    return { rule: v.document as unknown as RuleDocument, version: v.version };
  }

  return { syncRuleFiles, activeRules, rulesFingerprint, ruleView, ruleVersion, listRules, listVersions, createRule, updateRule, setEnabled };
}

export type RuleService = ReturnType<typeof createRuleService>;

function toRuleView(
  rule: { id: string; currentVersion: number; enabled: boolean; source: string; createdAt: Date; updatedAt: Date },
  current: { document: unknown },
): RuleView {
  return {
    id: rule.id,
    version: rule.currentVersion,
    enabled: rule.enabled,
    source: rule.source as RuleSource,
    createdAt: rule.createdAt.toISOString(),
    updatedAt: rule.updatedAt.toISOString(),
    document: current.document as RuleDocument,
  };
}
