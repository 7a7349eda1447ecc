// The SQL side of hit routing (hit-routing.ts), inside the commit of a batch's effects: which hits
// an allow entry or a snooze suppresses, the side hits, and the per-day counters rule quality
// reads. A fixed number of statements per batch whatever it holds.
import type { Sql } from "../../db/database";
import { sql } from "../../db/sql";
import type { Hit } from "../cases/case-repository";
import { partitionOf } from "./partitions";
import type { ClaimedEvent } from "./claimed-batch";
import type { PendingHit, SideHit, Suppression } from "./hit-routing";
import { allowKeysOf } from "../suppressions/suppression-service";

const json = (v: unknown) => JSON.stringify(v);
const dayOf = (d: Date) => d.toISOString().slice(0, 10);

/**
 * The suppression in force at `now` for each hit, if any: a snooze of the hit's rule for its
 * account, else an allow entry (for its rule or every rule) of its account, its org, or a payment
 * fingerprint it used. One statement, and none when no hit is pending.
 */
export async function findSuppressions(tx: Sql, pending: readonly PendingHit[], now: Date): Promise<Map<PendingHit, Suppression>> {
  const found = new Map<PendingHit, Suppression>();
  if (pending.length === 0) return found;
  const pairs = new Map<string, { i: number; account_id: string; rule_id: string }>();
  for (const p of pending) {
    const key = `${p.hit.accountId}\u0000${p.hit.rule.id}`;
    if (!pairs.has(key)) pairs.set(key, { i: pairs.size, account_id: p.hit.accountId, rule_id: p.hit.rule.id });
  }
  const rows = await tx.query<{ i: number; type: "allow" | "snooze"; id: string; reason: string }>(sql`
    SELECT p.i, s.type, s.id, s.reason
    FROM jsonb_to_recordset(${json([...pairs.values()])}::jsonb) AS p(i int, account_id text, rule_id text)
    JOIN LATERAL (
      SELECT * FROM (
        SELECT 'snooze' AS type, z.id, z.reason, 0 AS rank FROM rule_snooze z
        WHERE z.account_id = p.account_id AND z.rule_id = p.rule_id AND z.cancelled_at IS NULL AND z.until > ${now}::timestamptz
        UNION ALL
        SELECT 'allow', a.id, a.reason, 1 FROM (${allowKeysOf(sql`p.account_id`)}) k
        JOIN allow_entry a ON a.kind = k.kind AND a.value = k.value
        WHERE a.revoked_at IS NULL AND a.expires_at > ${now}::timestamptz AND (a.rule_id IS NULL OR a.rule_id = p.rule_id)
      ) c ORDER BY rank, id LIMIT 1) s ON true`);
  const byIndex = new Map(rows.map((r) => [Number(r.i), { type: r.type, id: r.id, reason: r.reason } satisfies Suppression]));
  for (const p of pending) {
    const s = byIndex.get(pairs.get(`${p.hit.accountId}\u0000${p.hit.rule.id}`)!.i);
    if (s) found.set(p, s);
  }
  return found;
}

export async function recordSideHits(tx: Sql, side: readonly SideHit[], now: Date): Promise<void> {
  if (side.length === 0) return;
  await tx.query(sql`
    INSERT INTO side_hit (role, shadow_id, rule_id, rule_version, account_id, occurred_at, trigger_event_id, "window", conditions, event_ids, suppressed_by, recorded_at)
    SELECT r.role, r.shadow_id, r.rule_id, r.rule_version, r.account_id, r.occurred_at, r.trigger_event_id, r."window", r.conditions, r.event_ids, r.suppressed_by, ${now}::timestamptz
    FROM jsonb_to_recordset(${json(
      side.map(({ hit: h, role, shadowId, suppressedBy }) => ({
        role,
        shadow_id: shadowId,
        rule_id: h.rule.id,
        rule_version: h.version,
        account_id: h.accountId,
        occurred_at: h.occurredAt,
        trigger_event_id: h.triggerEventId,
        window: h.window,
        conditions: h.conditions,
        event_ids: h.eventIds,
        suppressed_by: suppressedBy,
      })),
    )}::jsonb) AS r(role text, shadow_id text, rule_id text, rule_version int, account_id text, occurred_at timestamptz, trigger_event_id text,
                    "window" text, conditions jsonb, event_ids text[], suppressed_by jsonb)`);
}

/**
 * Adds the batch's evaluated events and its live hits (recorded and suppressed) to the per-day,
 * per-partition counters. A worker's batch holds only its own partitions' events, so two workers
 * never add to the same row.
 */
export async function countEvaluation(tx: Sql, events: readonly ClaimedEvent[], hits: readonly Hit[], suppressed: readonly Hit[]): Promise<void> {
  const evaluated = new Map<string, { day: string; partition: number; events: number }>();
  for (const e of events) {
    const day = dayOf(new Date(e.occurredAtMs));
    const partition = partitionOf(e.accountId);
    const key = `${day}/${partition}`;
    const row = evaluated.get(key) ?? evaluated.set(key, { day, partition, events: 0 }).get(key)!;
    row.events++;
  }
  if (evaluated.size) {
    await tx.query(sql`
      INSERT INTO evaluation_day (day, partition, events)
      SELECT r.day, r.partition, r.events FROM jsonb_to_recordset(${json([...evaluated.values()])}::jsonb) AS r(day date, partition smallint, events bigint)
      ORDER BY r.day, r.partition
      ON CONFLICT (day, partition) DO UPDATE SET events = evaluation_day.events + excluded.events`);
  }
  const counted = new Map<string, { rule_id: string; rule_version: number; day: string; partition: number; hits: number; suppressed: number }>();
  const add = (h: Hit, field: "hits" | "suppressed") => {
    const day = dayOf(h.occurredAt);
    const partition = partitionOf(h.accountId);
    const key = `${h.rule.id}@${h.version}/${day}/${partition}`;
    const row = counted.get(key) ?? counted.set(key, { rule_id: h.rule.id, rule_version: h.version, day, partition, hits: 0, suppressed: 0 }).get(key)!;
    row[field]++;
  };
  for (const h of hits) add(h, "hits");
  for (const h of suppressed) add(h, "suppressed");
  if (counted.size) {
    await tx.query(sql`
      INSERT INTO rule_hit_day (rule_id, rule_version, day, partition, hits, suppressed)
      SELECT r.rule_id, r.rule_version, r.day, r.partition, r.hits, r.suppressed
      FROM jsonb_to_recordset(${json([...counted.values()])}::jsonb) AS r(rule_id text, rule_version int, day date, partition smallint, hits bigint, suppressed bigint)
      ORDER BY r.rule_id, r.rule_version, r.day, r.partition
      ON CONFLICT (rule_id, rule_version, day, partition) DO UPDATE
        SET hits = rule_hit_day.hits + excluded.hits, suppressed = rule_hit_day.suppressed + excluded.suppressed`);
  }
}
