// Bulk storage of usage events: a handful of set-based statements per batch (unnest over arrays),
// never a statement per event. Runs inside the caller's transaction.
import ipaddr from "ipaddr.js";
import type { SqlSession } from "../../db/database";
import { sql } from "../../db/sql";
import { recordUsage } from "../facts/usage-rollups";
import type { UsageEventInput } from "./event-schemas";

/** The /24 of an IPv4 address or the /48 of an IPv6 one (IPv4-mapped IPv6 counts as IPv4). */
export function ipPrefix(ip: string): string {
  let addr = ipaddr.parse(ip);
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  if (addr.kind() === "ipv4") {
    const o = (addr as ipaddr.IPv4).octets;
    return `${o[0]}.${o[1]}.${o[2]}.0/24`;
  }
  const parts = (addr as ipaddr.IPv6).parts;
  return `${parts.slice(0, 3).map((p) => p.toString(16)).join(":")}::/48`;
}

export const linkKinds = ["paymentFingerprint", "ipPrefix", "orgId", "promptTemplateHash"] as const;
export type LinkKind = (typeof linkKinds)[number];

/** Stores the events whose eventId is new, queues each for evaluation; returns how many were new. */
export async function insertEvents(tx: SqlSession, events: UsageEventInput[]): Promise<number> {
  if (events.length === 0) return 0;
  // One lock order for every batch: concurrent batches that share accounts or ids cannot deadlock.
  const sorted = [...events].sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  await upsertAccounts(tx, sorted);

  const col = <T>(f: (e: UsageEventInput) => T) => sorted.map(f);
  const prefixes = col((e) => (e.ip ? ipPrefix(e.ip) : null));
  const inserted = await tx.query<{ event_id: string }>(sql`
    WITH ins AS (
      INSERT INTO usage_event (event_id, account_id, occurred_at, org_id, api_key_id, model, endpoint,
        input_tokens, output_tokens, end_user_id, ip, ip_prefix, ip_type, country, asn, user_agent,
        payment_fingerprint, prompt_template_hash, signals, attributes)
      SELECT u.event_id, u.account_id, u.occurred_at, u.org_id, u.api_key_id, u.model, u.endpoint,
        u.input_tokens, u.output_tokens, u.end_user_id, u.ip, u.ip_prefix, u.ip_type, u.country, u.asn::bigint, u.user_agent,
        u.payment_fingerprint, u.prompt_template_hash, u.signals::jsonb, u.attributes::jsonb
      FROM unnest(
        ${col((e) => e.eventId)}::text[], ${col((e) => e.accountId)}::text[], ${col((e) => e.occurredAt)}::timestamptz[],
        ${col((e) => e.orgId ?? null)}::text[], ${col((e) => e.apiKeyId ?? null)}::text[], ${col((e) => e.model)}::text[],
        ${col((e) => e.endpoint ?? null)}::text[], ${col((e) => e.inputTokens)}::int[], ${col((e) => e.outputTokens)}::int[],
        ${col((e) => e.endUserId ?? null)}::text[], ${col((e) => e.ip ?? null)}::text[], ${prefixes}::text[],
        ${col((e) => e.ipType ?? null)}::text[], ${col((e) => e.country ?? null)}::text[], ${col((e) => (e.asn == null ? null : String(e.asn)))}::text[],
        ${col((e) => e.userAgent ?? null)}::text[], ${col((e) => e.paymentFingerprint ?? null)}::text[],
        ${col((e) => e.promptTemplateHash ?? null)}::text[], ${col((e) => (e.signals ? JSON.stringify(e.signals) : null))}::text[],
        ${col((e) => (e.attributes ? JSON.stringify(e.attributes) : null))}::text[]
      ) AS u(event_id, account_id, occurred_at, org_id, api_key_id, model, endpoint, input_tokens, output_tokens,
             end_user_id, ip, ip_prefix, ip_type, country, asn, user_agent, payment_fingerprint, prompt_template_hash,
             signals, attributes)
      ON CONFLICT (event_id) DO NOTHING
      RETURNING id, event_id, account_id
    ), queued AS (
      INSERT INTO evaluation_task (event_pk, account_id) SELECT id, account_id FROM ins
    )
    SELECT event_id FROM ins`);
  if (inserted.length === 0) return 0;

  // Only events stored now count in the rollups: a duplicate must not be counted twice.
  const stored = new Set(inserted.map((r) => r.event_id));
  await recordUsage(tx, sorted.filter((e) => stored.has(e.eventId)));

  await upsertLinkKeys(tx, sorted, prefixes);
  return inserted.length;
}

async function upsertAccounts(tx: SqlSession, events: UsageEventInput[]): Promise<void> {
  const byAccount = new Map<string, { orgId: string | null; first: string; last: string; firstMs: number; lastMs: number }>();
  for (const e of events) {
    const ms = Date.parse(e.occurredAt);
    const a = byAccount.get(e.accountId);
    if (!a) byAccount.set(e.accountId, { orgId: e.orgId ?? null, first: e.occurredAt, last: e.occurredAt, firstMs: ms, lastMs: ms });
    else {
      if (ms < a.firstMs) Object.assign(a, { first: e.occurredAt, firstMs: ms });
      if (ms > a.lastMs) Object.assign(a, { last: e.occurredAt, lastMs: ms });
      if (e.orgId) a.orgId = e.orgId;
    }
  }
  const ids = [...byAccount.keys()].sort();
  const rows = ids.map((id) => byAccount.get(id)!);
  await tx.query(sql`
    INSERT INTO account (id, org_id, first_seen_at, last_seen_at)
    SELECT * FROM unnest(${ids}::text[], ${rows.map((r) => r.orgId)}::text[],
                         ${rows.map((r) => r.first)}::timestamptz[], ${rows.map((r) => r.last)}::timestamptz[])
    ON CONFLICT (id) DO UPDATE SET
      first_seen_at = LEAST(account.first_seen_at, EXCLUDED.first_seen_at),
      last_seen_at = GREATEST(account.last_seen_at, EXCLUDED.last_seen_at),
      org_id = COALESCE(EXCLUDED.org_id, account.org_id)`);
}

async function upsertLinkKeys(tx: SqlSession, events: UsageEventInput[], prefixes: (string | null)[]): Promise<void> {
  const keys = new Map<string, { kind: LinkKind; value: string; accountId: string; firstMs: number; lastMs: number }>();
  const add = (kind: LinkKind, value: string | null | undefined, accountId: string, ms: number) => {
    if (!value) return;
    const k = `${kind}\u0000${value}\u0000${accountId}`;
    const cur = keys.get(k);
    if (!cur) keys.set(k, { kind, value, accountId, firstMs: ms, lastMs: ms });
    else {
      cur.firstMs = Math.min(cur.firstMs, ms);
      cur.lastMs = Math.max(cur.lastMs, ms);
    }
  };
  events.forEach((e, i) => {
    const ms = Date.parse(e.occurredAt);
    add("paymentFingerprint", e.paymentFingerprint, e.accountId, ms);
    add("ipPrefix", prefixes[i], e.accountId, ms);
    add("orgId", e.orgId, e.accountId, ms);
    add("promptTemplateHash", e.promptTemplateHash, e.accountId, ms);
  });
  if (keys.size === 0) return;
  const rows = [...keys.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  await tx.query(sql`
    INSERT INTO account_link_key (kind, value, account_id, first_seen_at, last_seen_at)
    SELECT * FROM unnest(${rows.map((r) => r.kind)}::text[], ${rows.map((r) => r.value)}::text[], ${rows.map((r) => r.accountId)}::text[],
                         ${rows.map((r) => new Date(r.firstMs).toISOString())}::timestamptz[],
                         ${rows.map((r) => new Date(r.lastMs).toISOString())}::timestamptz[])
    ON CONFLICT (kind, value, account_id) DO UPDATE SET
      first_seen_at = LEAST(account_link_key.first_seen_at, EXCLUDED.first_seen_at),
      last_seen_at = GREATEST(account_link_key.last_seen_at, EXCLUDED.last_seen_at)`);
}
