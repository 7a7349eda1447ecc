// Rules and their versions: synchronizes the policy pack into the database (a changed file is a
// new version, an unchanged one is not) and reads the enabled rules with their current version.
import { createHash } from "node:crypto";
import type { Prisma, PrismaClient } from "../../generated/prisma/client";
import type { RuleDocument } from "../../engine/rule-schema";
import { appendAudit } from "../audit/audit-log";
import type { RuleFile } from "./rule-files";

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

export function createRuleService(prisma: PrismaClient) {
  async function syncRuleFiles(files: RuleFile[], actor = "rules-dir"): Promise<SyncResult> {
    const result: SyncResult = { created: [], updated: [], unchanged: [] };
    await prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${ruleWriteLock})`;
      for (const { rule } of files) {
        const outcome = await saveVersion(tx, rule, "file", actor);
        result[outcome].push(rule.id);
      }
    });
    return result;
  }

  async function saveVersion(
    tx: Prisma.TransactionClient,
    rule: RuleDocument,
    source: "file" | "api",
    actor: string,
  ): Promise<"created" | "updated" | "unchanged"> {
    const checksum = ruleChecksum(rule);
    const existing = await tx.rule.findUnique({ where: { id: rule.id } });
    const document = rule as unknown as Prisma.InputJsonValue;
    if (!existing) {
      await tx.rule.create({ data: { id: rule.id, currentVersion: 1, enabled: rule.enabled, source } });
      await tx.ruleVersion.create({ data: { ruleId: rule.id, version: 1, document, checksum, createdBy: actor } });
      await appendAudit(tx, { actor, action: "rule.create", targetType: "rule", targetId: rule.id, after: { version: 1, document: rule } });
      return "created";
    }
    const current = await tx.ruleVersion.findUnique({ where: { ruleId_version: { ruleId: rule.id, version: existing.currentVersion } } });
    if (current?.checksum === checksum) return "unchanged";
    const version = existing.currentVersion + 1;
    await tx.ruleVersion.create({ data: { ruleId: rule.id, version, document, checksum, createdBy: actor } });
    await tx.rule.update({ where: { id: rule.id }, data: { currentVersion: version, enabled: rule.enabled, source } });
    await appendAudit(tx, {
      actor,
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

  return { syncRuleFiles, activeRules, rulesFingerprint };
}

export type RuleService = ReturnType<typeof createRuleService>;
