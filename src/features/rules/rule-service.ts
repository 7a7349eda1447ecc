// Rules and their versions: synchronizes the policy pack into the database (a changed file is a
// new version, an unchanged one is not) and reads the enabled rules with their current version.
import { createHash } from "node:crypto";
import type { Database, Orm, Sql } from "../../db/database";
import type { Prisma } from "../../generated/prisma/client";
import { z } from "zod";
import { type RuleDocument, ruleIdPattern } from "../../engine/rule-schema";
import { listRefs } from "../../engine/named-lists";
import { sql } from "../../db/sql";
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
export type RunningShadow = ActiveRule & { shadowId: string; endsAt: Date | null };

/** `awaitingLists`: rules whose files name lists that do not exist yet (their list conditions hold for no event until they do). */
export type SyncResult = { created: string[]; updated: string[]; unchanged: string[]; awaitingLists: { ruleId: string; lists: string[] }[] };

/** Lock key shared by every process that writes rule versions. */
const ruleWriteLock = 4236936583016097350n;

export function createRuleService(db: Database) {
  const { prisma } = db;
  async function syncRuleFiles(files: RuleFile[], who: Actor = { actor: "rules-dir" }): Promise<SyncResult> {
    const result: SyncResult = { created: [], updated: [], unchanged: [], awaitingLists: [] };
    await writing(async (tx) => {
      for (const { rule } of files) {
        const outcome = await saveVersion(tx, rule, "file", who);
        result[outcome].push(rule.id);
        const missing = await missingLists(tx, rule);
        if (missing.length) result.awaitingLists.push({ ruleId: rule.id, lists: [...new Set(missing.map((r) => r.list))] });
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
    activate = true,
  ): Promise<"created" | "updated" | "unchanged"> {
    // A rule file may name a list not created yet: the server must start for the list to be
    // imported. Its list conditions hold for no event (neither inList nor notInList) until it exists.
    if (source !== "file") await checkLists(tx, rule);
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
    // A file already stored as some version does not undo what the API did since (a PUT, a
    // promoted shadow): only an edited file makes a new version.
    if (source === "file" && existing.source === "api" && (await tx.ruleVersion.findFirst({ where: { ruleId: rule.id, checksum }, select: { version: true } }))) return "unchanged";
    // Versions are numbered past the newest, which may be a candidate stored without becoming current.
    const newest = await tx.ruleVersion.findFirst({ where: { ruleId: rule.id }, orderBy: { version: "desc" }, select: { version: true } });
    const version = (newest?.version ?? existing.currentVersion) + 1;
    await tx.ruleVersion.create({ data: { ruleId: rule.id, version, document, checksum, createdBy: actor } });
    if (!activate) {
      await appendAudit(tx, { actor, requestId, action: "rule.candidate", targetType: "rule", targetId: rule.id, after: { version, document: rule } });
      return "updated";
    }
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

  /** The rule's references to lists that do not exist. */
  async function missingLists(tx: Orm, rule: RuleDocument): Promise<ReturnType<typeof listRefs>> {
    const refs = listRefs(rule.conditions);
    if (refs.length === 0) return [];
    const found = await tx.namedList.findMany({ where: { name: { in: refs.map((r) => r.list) } }, select: { name: true } });
    const have = new Set(found.map((f) => f.name));
    return refs.filter((r) => !have.has(r.list));
  }

  /** A rule saved through the API may only name lists that exist: 400 with the path of each unknown one. */
  async function checkLists(tx: Orm, rule: RuleDocument): Promise<void> {
    const unknown = await missingLists(tx, rule);
    if (unknown.length) {
      throw validationFailed(
        unknown.map((r) => ({ path: r.path, message: `unknown list '${r.list}': create it first (POST /v1/lists)` })),
        `rule '${rule.id}' names ${unknown.length} unknown list(s)`,
      );
    }
  }

  /** The enabled rules with the document of their current version. */
  /** The enabled rules at their current versions, by id. */
  async function activeRules(q: Sql = db): Promise<ActiveRule[]> {
    const rows = await q.query<{ document: RuleDocument; version: number }>(sql`
      SELECT v.document, v.version FROM rule r JOIN rule_version v ON v.rule_id = r.id AND v.version = r.current_version
      WHERE r.enabled ORDER BY r.id`);
    return rows.map((r) => ({ rule: r.document, version: r.version }));
  }

  /**
   * What is evaluated, read in one snapshot: the fingerprint, the active rules and the running
   * shadows, so a change committed meanwhile (a promotion) cannot leave a batch with the new
   * active version and the old shadows, or the other way round.
   */
  async function evaluatedSnapshot(): Promise<{ fingerprint: string; active: ActiveRule[]; shadows: RunningShadow[] }> {
    return db.transaction(async (tx) => {
      await tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      return { fingerprint: await rulesFingerprint(tx), active: await activeRules(tx), shadows: await runningShadows(tx) };
    });
  }

  /**
   * A cheap fingerprint of what is evaluated (the enabled rules at their versions, the running
   * shadows, the named lists' versions), to notice changes made by any process. One statement.
   */
  async function rulesFingerprint(q: Sql = db): Promise<string> {
    const [row] = await q.query<{ fp: string }>(sql`
      SELECT coalesce((SELECT string_agg(id || '@' || current_version, ',' ORDER BY id) FROM rule WHERE enabled), '')
        || '|' || coalesce((SELECT string_agg(id || ':' || rule_id || '@' || version || ':' || coalesce(ends_at::text, ''), ',' ORDER BY id)
                            FROM rule_shadow WHERE stopped_at IS NULL), '')
        || '|' || coalesce((SELECT string_agg(name || '@' || version, ',' ORDER BY name) FROM named_list), '') AS fp`);
    return row?.fp ?? "";
  }

  /** Every rule's id, sorted. */
  async function ruleIds(): Promise<string[]> {
    return (await prisma.rule.findMany({ select: { id: true }, orderBy: { id: "asc" } })).map((r) => r.id);
  }

  /** The running shadows with their candidate's document. */
  async function runningShadows(q: Sql = db): Promise<RunningShadow[]> {
    const rows = await q.query<{ id: string; rule_id: string; version: number; ends_at: Date | null; document: RuleDocument }>(sql`
      SELECT s.id, s.rule_id, s.version, s.ends_at, v.document
      FROM rule_shadow s JOIN rule_version v ON v.rule_id = s.rule_id AND v.version = s.version
      WHERE s.stopped_at IS NULL ORDER BY s.rule_id`);
    return rows.map((r) => ({ shadowId: r.id, rule: r.document, version: r.version, endsAt: r.ends_at ? new Date(r.ends_at) : null }));
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

  /**
   * A candidate version: stored, not made current (to run in shadow, then promote). 201 with its
   * number; a document equal to the current version adds none (409).
   */
  async function addCandidate(id: string, rule: RuleDocument, who: Actor): Promise<RuleVersion> {
    if (rule.id !== id) throw validationFailed([{ path: "id", message: `must be '${id}', the rule in the path` }]);
    return writing(async (tx) => {
      if (!(await tx.rule.findUnique({ where: { id } }))) throw notFound("rule", id);
      if ((await saveVersion(tx, rule, "api", who, false)) === "unchanged") throw new AppError("conflict", `the document equals the current version of '${id}'`);
      const v = await tx.ruleVersion.findFirstOrThrow({ where: { ruleId: id }, orderBy: { version: "desc" } });
      return { version: v.version, current: false, checksum: v.checksum, createdAt: v.createdAt.toISOString(), createdBy: v.createdBy, document: v.document as unknown as RuleDocument };
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

  return { syncRuleFiles, activeRules, rulesFingerprint, runningShadows, evaluatedSnapshot, addCandidate, writing, ruleIds, ruleView, ruleVersion, listRules, listVersions, createRule, updateRule, setEnabled };
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
