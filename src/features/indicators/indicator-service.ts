// Indicator exchange (docs/due-process.md#indicator-exchange). Export: the confirmed cases of one
// case, or of a rule over a period, as a STIX 2.1 bundle of indicators over HMAC-SHA256 hashes of
// the accounts' ids, payment fingerprints, IP prefixes and prompt templates, keyed with the secret
// shared with the partner it is for: two providers holding the same secret match hashes without
// either revealing a raw value. Import: a partner's bundle, checked in full (every fault with its
// path; nothing stored unless all is valid), stored as a named source in one transaction.
import type { Database } from "../../db/database";
import { sql } from "../../db/sql";
import { AppError, notFound, validationFailed } from "../../shared/errors";
import { type ExportedBundle, type ImportResult, type IndicatorKind, indicatorHash, parsePattern, patternOf, stixId, validateStixBundle } from "./stix";

const dayMs = 86_400_000;
/** Case statuses whose accounts a provider vouches for: confirmed by an analyst (enforced and resolved cases were). */
const sharedStatuses = ["confirmed", "enforced", "resolved"] as const;
/** Confidence (STIX 0-100) from the case's status: an enforced measure stands behind it more than a confirmation. */
const confidenceOf: Record<string, number> = { confirmed: 70, enforced: 85, resolved: 85 };
/** How long an exported indicator stays valid after the case's last hit. */
export const indicatorValidityDays = 90;
/** Most cases one export covers. */
export const maxExportCases = 5000;
/** Link values of one account looked at: from 30 days before the case's first hit. */
const lookbackMs = 30 * dayMs;

export type ExportSelection = { caseId: string } | { ruleId: string; from: Date; to: Date };

export function createIndicatorService(db: Database, partners: Record<string, string>) {
  const { prisma } = db;

  const secretOf = (partner: string, where: string) => {
    const secret = partners[partner];
    if (!secret) {
      throw validationFailed([{ path: where, message: `'${partner}' is not a sharing partner (CLAUSEGUARD_SHARING_PARTNERS names ${Object.keys(partners).join(", ") || "none"})` }]);
    }
    return secret;
  };

  async function exportBundle(partner: string, selection: ExportSelection, now = new Date()): Promise<ExportedBundle> {
    const secret = secretOf(partner, "query.partner");
    const cases =
      "caseId" in selection
        ? await prisma.violationCase.findMany({ where: { id: selection.caseId } })
        : await prisma.violationCase.findMany({
            where: { ruleId: selection.ruleId, status: { in: [...sharedStatuses] }, firstSeenAt: { lt: selection.to }, lastSeenAt: { gte: selection.from } },
            orderBy: { id: "asc" },
            take: maxExportCases + 1,
          });
    if ("caseId" in selection) {
      if (cases.length === 0) throw notFound("case", selection.caseId);
      if (!(sharedStatuses as readonly string[]).includes(cases[0]!.status)) {
        throw new AppError("conflict", `case ${selection.caseId} is ${cases[0]!.status}: only confirmed, enforced or resolved cases are shared`);
      }
    }
    if (cases.length > maxExportCases) throw validationFailed([{ path: "query.from", message: `more than ${maxExportCases} cases in the range: export a shorter one` }]);
    // key: kind + hash -> the indicator, its validity widened and its confidence raised over the cases that name it.
    const found = new Map<string, { kind: IndicatorKind; hash: string; from: Date; until: Date; confidence: number; rules: Set<string> }>();
    const add = (kind: IndicatorKind, value: string, c: (typeof cases)[number]) => {
      const hash = indicatorHash(secret, kind, value);
      const until = new Date(c.lastSeenAt.getTime() + indicatorValidityDays * dayMs);
      const prev = found.get(`${kind}:${hash}`);
      if (!prev) found.set(`${kind}:${hash}`, { kind, hash, from: c.firstSeenAt, until, confidence: confidenceOf[c.status]!, rules: new Set([c.ruleId]) });
      else {
        if (c.firstSeenAt < prev.from) prev.from = c.firstSeenAt;
        if (until > prev.until) prev.until = until;
        prev.confidence = Math.max(prev.confidence, confidenceOf[c.status]!);
        prev.rules.add(c.ruleId);
      }
    };
    // Every case's link values in one statement (a lateral read per case, at most 1,000 values each), not one query a case.
    const values = cases.length
      ? await db.query<{ i: number; kind: IndicatorKind; value: string }>(sql`
          SELECT c.i, v.kind, v.value
          FROM unnest(${cases.map((c) => c.accountId)}::text[], ${cases.map((c) => new Date(c.firstSeenAt.getTime() - lookbackMs))}::timestamptz[],
                      ${cases.map((c) => c.lastSeenAt)}::timestamptz[]) WITH ORDINALITY AS c(account_id, since, until, i)
          CROSS JOIN LATERAL (
            SELECT DISTINCT kind, value FROM account_link_key k
            WHERE k.account_id = c.account_id AND k.kind IN ('paymentFingerprint', 'ipPrefix', 'promptTemplateHash')
              AND k.last_seen_at >= c.since AND k.first_seen_at <= c.until
            ORDER BY kind, value LIMIT 1000) v`)
      : [];
    for (const c of cases) add("accountId", c.accountId, c);
    for (const v of values) add(v.kind, v.value, cases[Number(v.i) - 1]!);
    const created = now.toISOString();
    const objects = [...found.values()]
      .sort((a, b) => a.kind.localeCompare(b.kind) || a.hash.localeCompare(b.hash))
      .map((i) => ({
        type: "indicator" as const,
        spec_version: "2.1" as const,
        id: stixId("indicator", `${partner}:${i.kind}:${i.hash}`),
        created,
        modified: created,
        name: `ClauseGuard: ${i.kind} of an account in a confirmed case (${[...i.rules].sort().join(", ")})`,
        indicator_types: ["malicious-activity"],
        pattern: patternOf(i.kind, i.hash),
        pattern_type: "stix" as const,
        valid_from: i.from.toISOString(),
        valid_until: i.until.toISOString(),
        confidence: i.confidence,
        labels: ["clauseguard", ...[...i.rules].sort()],
      }));
    return { type: "bundle", id: stixId("bundle", `${partner}:${created}:${objects.length}`), objects };
  }

  async function importBundle(source: string, bundle: unknown, now = new Date()): Promise<ImportResult> {
    secretOf(source, "query.source");
    const v = validateStixBundle(bundle);
    if (!v.ok) throw validationFailed(v.faults.map((f) => ({ path: `body${f.path.startsWith("[") || !f.path ? "" : "."}${f.path}`, message: f.message })), "the STIX bundle is malformed: nothing was imported");
    const readable = v.objects.flatMap((o) => {
      if (!o.indicator || o.indicator.revoked === true) return [];
      const p = o.indicator.pattern_type === "stix" ? parsePattern(o.indicator.pattern) : undefined;
      return p ? [{ ...p, indicator: o.indicator }] : [];
    });
    // One row per STIX id: a later version of an indicator in the same bundle replaces an earlier one.
    const usable = [...new Map(readable.map((u) => [u.indicator.id, u])).values()];
    await db.transaction(async (tx) => {
      if (usable.length === 0) return;
      await tx.query(sql`
        INSERT INTO shared_indicator (source, stix_id, kind, value_hash, confidence, valid_from, valid_until, imported_at)
        SELECT ${source}, * FROM unnest(${usable.map((u) => u.indicator.id)}::text[], ${usable.map((u) => u.kind)}::text[], ${usable.map((u) => u.hash)}::text[],
          ${usable.map((u) => u.indicator.confidence ?? null)}::int[], ${usable.map((u) => u.indicator.valid_from)}::timestamptz[],
          ${usable.map((u) => u.indicator.valid_until ?? null)}::timestamptz[], ${usable.map(() => now.toISOString())}::timestamptz[])
        ON CONFLICT (source, stix_id) DO UPDATE SET kind = EXCLUDED.kind, value_hash = EXCLUDED.value_hash, confidence = EXCLUDED.confidence,
          valid_from = EXCLUDED.valid_from, valid_until = EXCLUDED.valid_until, imported_at = EXCLUDED.imported_at`);
    });
    const held = await prisma.sharedIndicator.count({ where: { source } });
    return { source, imported: usable.length, ignored: v.objects.length - readable.length, held };
  }

  return { exportBundle, importBundle };
}
export type IndicatorService = ReturnType<typeof createIndicatorService>;
