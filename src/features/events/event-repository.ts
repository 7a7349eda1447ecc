// Bulk storage of usage events: three set-based statements per batch, never a statement per
// event. Runs inside the caller's transaction.
import type { Sql } from "../../db/database";
import { raw, sql } from "../../db/sql";
import { profileChangesOf, upsertProfiles } from "../accounts/account-profile";
import { enqueueInserted } from "../evaluation/evaluation-queue";
import { ingestionLock } from "../facts/link-components";
import { componentTables, rollupStatements } from "../facts/usage-rollups";
import type { UsageEventInput } from "./event-schemas";
import { type LinkPolicy, defaultLinkPolicy } from "./link-policy";
import { type LinkKeyCache, type LinkKeyRow, ipPrefix, linkKeyRecords, linkKeyRows, noLinkKeyCache, sharedNetworkTest } from "./link-key-cache";

/**
 * Stores the events whose eventId is new, in the caller's transaction, with everything that must
 * commit with them: their evaluation tasks, the usage rollups and the link keys. Returns how many
 * were new. Three statements per batch whatever its size; the batch travels as one JSON parameter
 * and PostgreSQL does the aggregation (cheaper than building and serializing arrays in Node).
 */
export async function insertEvents(
  tx: Sql,
  events: UsageEventInput[],
  linkKeys: LinkKeyCache = noLinkKeyCache,
  linkPolicy: LinkPolicy = defaultLinkPolicy,
): Promise<{ inserted: number; linkKeysWritten: LinkKeyRow[] }> {
  if (events.length === 0) return { inserted: 0, linkKeysWritten: [] };
  const sightings = accountSightings(events);
  // Link keys come from every valid event (a duplicate only repeats what is known already).
  await createAccounts(tx, sightings);
  // Profile fields some events carry (accountCreatedAt, ...): one statement, only when there are any.
  const profiles = profileChangesOf(events);
  if (profiles.length) await upsertProfiles(tx, profiles, { fillOnly: true });
  // One look-up of each address in the network lists for the batch, shared by both uses.
  const shared = sharedNetworkTest(linkPolicy);
  const newLinkKeys = linkKeys.unseen(linkKeyRows(events, linkPolicy, await creationDays(tx, events, linkPolicy, shared), shared));
  const rows = JSON.stringify(events.map((e) => (e.ip ? { ...e, ipPrefix: ipPrefix(e.ip) } : e)));
  const [result] = await tx.query<{ inserted: number }>(sql`
    WITH ins AS (
      INSERT INTO usage_event (event_id, account_id, occurred_at, org_id, api_key_id, model, endpoint,
        input_tokens, output_tokens, end_user_id, ip, ip_prefix, ip_type, country, asn, user_agent,
        payment_fingerprint, prompt_template_hash, signals, attributes)
      SELECT r."eventId", r."accountId", r."occurredAt", r."orgId", r."apiKeyId", r.model, r.endpoint,
        r."inputTokens", r."outputTokens", r."endUserId", r.ip, r."ipPrefix", r."ipType", r.country, r.asn, r."userAgent",
        r."paymentFingerprint", r."promptTemplateHash", r.signals, r.attributes
      FROM jsonb_to_recordset(${rows}::jsonb) AS r("eventId" text, "accountId" text, "occurredAt" timestamptz,
        "orgId" text, "apiKeyId" text, model text, endpoint text, "inputTokens" int, "outputTokens" int,
        "endUserId" text, ip text, "ipPrefix" text, "ipType" text, country text, asn bigint, "userAgent" text,
        "paymentFingerprint" text, "promptTemplateHash" text, signals jsonb, attributes jsonb)
      -- One lock order on the eventId index for every batch: concurrent batches cannot deadlock.
      ORDER BY r."eventId"
      ON CONFLICT (event_id) DO NOTHING
      RETURNING id, account_id, occurred_at, input_tokens, output_tokens, model, ip, country, prompt_template_hash, signals
    ), queued AS (
      ${raw(enqueueInserted("ins"))}
    )${raw(rollupStatements("ins"))}, component_events AS (
      -- The events of linked accounts, once more under each component they are in (link-components.ts).
      SELECT c.component AS account_id, s.occurred_at, s.input_tokens, s.output_tokens, s.signals, s.model, s.prompt_template_hash
      FROM ins s JOIN link_component c ON c.account_id = s.account_id
    )${raw(rollupStatements("component_events", componentTables))}, models_seen AS (
      -- When each model was first seen (newModelShare). Only a model new to the table, or seen
      -- earlier than it says (a backfill), writes: a batch of known models takes no row lock.
      INSERT INTO model_first_seen AS f (model, first_seen_at)
      SELECT x.model, x.first FROM (SELECT model, min(occurred_at) AS first FROM ins GROUP BY 1) x
      WHERE NOT EXISTS (SELECT 1 FROM model_first_seen m WHERE m.model = x.model AND m.first_seen_at <= x.first)
      ORDER BY x.model
      ON CONFLICT (model) DO UPDATE SET first_seen_at = LEAST(f.first_seen_at, excluded.first_seen_at)
    ), link_keys AS (
      INSERT INTO account_link_key (kind, value, account_id, first_seen_at, last_seen_at)
      SELECT kind, value, "accountId", "firstSeenAt", "lastSeenAt"
      FROM jsonb_to_recordset(${linkKeyRecords(newLinkKeys)}::jsonb)
        AS k(kind text, value text, "accountId" text, "firstSeenAt" timestamptz, "lastSeenAt" timestamptz)
    )
    SELECT count(*)::int AS inserted FROM ins`);
  const inserted = Number(result?.inserted ?? 0);
  if (inserted > 0) await touchAccounts(tx, sightings);
  return { inserted, linkKeysWritten: newLinkKeys };
}

/**
 * The provider's creation day (YYYY-MM-DD) of the accounts with events on networks shared by their ipType, for
 * the creation-wave key (link-key-cache.ts): one read of their profiles, and none when the batch
 * has no such event or the policy skips shared prefixes.
 */
async function creationDays(tx: Sql, events: UsageEventInput[], policy: LinkPolicy, shared: ReturnType<typeof sharedNetworkTest>): Promise<Map<string, string>> {
  if (policy.sharedLinks !== "weak") return new Map();
  const ids = [...new Set(events.filter((e) => shared(e) === "ipType").map((e) => e.accountId))];
  if (ids.length === 0) return new Map();
  const rows = await tx.query<{ account_id: string; day: string }>(sql`
    SELECT account_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
    FROM account_profile WHERE account_id = ANY(${ids}::text[]) AND created_at IS NOT NULL`);
  return new Map(rows.map((r) => [r.account_id, r.day]));
}

type Sighting = { id: string; orgId: string | null; first: string; last: string; firstMs: number; lastMs: number };

function accountSightings(events: UsageEventInput[]): Sighting[] {
  const byAccount = new Map<string, Sighting>();
  for (const e of events) {
    const ms = Date.parse(e.occurredAt);
    const a = byAccount.get(e.accountId);
    if (!a) byAccount.set(e.accountId, { id: e.accountId, orgId: e.orgId ?? null, first: e.occurredAt, last: e.occurredAt, firstMs: ms, lastMs: ms });
    else {
      if (ms < a.firstMs) Object.assign(a, { first: e.occurredAt, firstMs: ms });
      if (ms > a.lastMs) Object.assign(a, { last: e.occurredAt, lastMs: ms });
      if (e.orgId) a.orgId = e.orgId;
    }
  }
  // Sorted: concurrent batches touching the same accounts take their row locks in one order.
  return [...byAccount.values()].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

/**
 * Creates accounts seen for the first time. DO NOTHING takes no lock on existing rows, so
 * concurrent batches for the same accounts do not queue behind each other here.
 */
async function createAccounts(tx: Sql, rows: Sighting[]): Promise<void> {
  // First, the shared side of the components' lock (link-components.ts): the next statement's
  // snapshot then sees the components of every uniting pass before it, and no pass moves a
  // component's rows until this transaction has committed.
  await tx.query(sql`
    INSERT INTO account (id, org_id, first_seen_at, last_seen_at)
    SELECT u.* FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.orgId)}::text[],
                           ${rows.map((r) => r.first)}::timestamptz[], ${rows.map((r) => r.last)}::timestamptz[]) AS u(id, org_id, f, l),
                    (SELECT pg_advisory_xact_lock_shared(${raw(ingestionLock)})) AS lock
    ON CONFLICT (id) DO NOTHING`);
}

/**
 * Widens first/last seen (and fills the org) of existing accounts, touching only rows that change.
 * Run last in the transaction: the row locks it takes are held only until the commit. The rows are
 * locked in id order first, by a statement of their own (an UPDATE ... FROM locks in join order,
 * which differs between plans), so two batches widening the same accounts queue instead of
 * deadlocking.
 */
async function touchAccounts(tx: Sql, rows: Sighting[]): Promise<void> {
  const changes = sql`
    SELECT * FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.orgId)}::text[],
                         ${rows.map((r) => r.first)}::timestamptz[], ${rows.map((r) => r.last)}::timestamptz[])
      AS u(id, org_id, first_seen_at, last_seen_at)`;
  // A statement of its own, run to the end before the update: the locks are taken in id order.
  // NO KEY UPDATE (what the UPDATE itself takes) leaves other batches' foreign-key checks free.
  const locked = await tx.query<{ id: string }>(sql`
    SELECT a.id FROM account a JOIN (${changes}) u ON a.id = u.id
    WHERE u.first_seen_at < a.first_seen_at OR u.last_seen_at > a.last_seen_at
          OR (u.org_id IS NOT NULL AND u.org_id IS DISTINCT FROM a.org_id)
    ORDER BY a.id
    FOR NO KEY UPDATE OF a`);
  if (locked.length === 0) return;
  await tx.query(sql`
    UPDATE account a SET
      first_seen_at = LEAST(a.first_seen_at, u.first_seen_at),
      last_seen_at = GREATEST(a.last_seen_at, u.last_seen_at),
      org_id = COALESCE(u.org_id, a.org_id)
    FROM (${changes}) u
    WHERE a.id = u.id AND a.id = ANY(${locked.map((r) => r.id)}::text[])`);
}
