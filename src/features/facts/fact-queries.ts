// The statements behind the linked-account facts and the account fact: linked accounts through
// account_link_key, and account rows. Each takes many asks at once (fact-loader.ts batches them).
import { prepared, raw, sql } from "../../db/sql";
import type { LinkBy } from "../../engine/fact-catalog";
import { type HubLimits, defaultHubLimits, linkKinds, strongLinkKinds } from "../events/link-policy";
import type { Sql } from "../../db/database";

/** At most this many linked accounts are returned (the first by id): the cap bounds the work. */
export const maxLinkedAccounts = 5000;

/** The kinds a link scope reads: "any" is every strong kind (link-policy.ts), any other scope its own kind. */
export function linkKindsFor(by: LinkBy): string[] {
  return by === "any" ? [...strongLinkKinds] : [by];
}

/** Accounts (other than this one) that used a value of the given kinds that this one used, both within the window. */
export async function linkedAccountIds(db: Sql, accountId: string, by: LinkBy, from: Date, to: Date, hubLimits: HubLimits = defaultHubLimits): Promise<string[]> {
  return (await linkedAccountIdsMany(db, [{ accountId, by, from, to }], hubLimits))[0]!;
}

/** A kind's hub limit in SQL: a CASE over the fixed kinds (identifiers of link-policy.ts, integers). */
const limitOf = (kind: string, limits: HubLimits) => `(CASE ${kind} ${linkKinds.map((k) => `WHEN '${k}' THEN ${Math.trunc(limits[k])}`).join(" ")} END)`;

/**
 * The link values (of the kinds in `${a}.kinds`) that account `${a}.account_id` used within
 * [`${a}.f`, `${a}.t`], each with how many accounts used it then (`users`, counted up to its
 * kind's hub limit + 1, in account order through the (kind, value, account_id) index, so a hub
 * costs no more than that) and its kind's hub limit (`lim`): a value with users > lim is a hub.
 */
const linkValuesOf = (a: string, limits: HubLimits) => `(
  SELECT DISTINCT ON (m.kind, m.value) m.kind, m.value, u.users, ${limitOf("m.kind", limits)} AS lim
  FROM account_link_key m
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS users FROM (
      SELECT DISTINCT h.account_id FROM account_link_key h
      WHERE h.kind = m.kind AND h.value = m.value AND h.last_seen_at >= ${a}.f AND h.first_seen_at <= ${a}.t
      ORDER BY h.account_id LIMIT ${limitOf("m.kind", limits)} + 1) d
  ) u
  WHERE m.account_id = ${a}.account_id AND m.kind = ANY(string_to_array(${a}.kinds, ','))
    AND m.last_seen_at >= ${a}.f AND m.first_seen_at <= ${a}.t
  ORDER BY m.kind, m.value)`;

/** The hub values (used by more accounts than their kind's hub limit) among those an account used within [from, to]: what it is not linked through. */
export async function linkHubs(db: Sql, accountId: string, by: LinkBy, from: Date, to: Date, hubLimits: HubLimits = defaultHubLimits): Promise<{ kind: string; value: string }[]> {
  return db.query<{ kind: string; value: string }>(sql`
    SELECT v.kind, v.value
    FROM (SELECT ${accountId}::text AS account_id, ${linkKindsFor(by).join(",")}::text AS kinds, ${from.toISOString()}::timestamptz AS f, ${to.toISOString()}::timestamptz AS t) r,
         LATERAL ${raw(linkValuesOf("r", hubLimits))} v
    WHERE v.users > v.lim
    ORDER BY v.kind, v.value`);
}

/** linkedAccountIds for many (account, kinds, window) asks in one statement: evaluation asks for a whole batch. */
export async function linkedAccountIdsMany(db: Sql, asks: { accountId: string; by: LinkBy; from: Date; to: Date }[], hubLimits: HubLimits = defaultHubLimits): Promise<string[][]> {
  if (asks.length === 0) return [];
  const rows = await db.query<{ i: number; ids: string[] | null }>(prepared(`cg_linked_accounts_many_${linkKinds.map((k) => Math.trunc(hubLimits[k])).join("_")}`, sql`
    SELECT r.i, l.ids
    FROM unnest(${asks.map((_, i) => i)}::int[], ${asks.map((a) => a.accountId)}::text[], ${asks.map((a) => linkKindsFor(a.by).join(","))}::text[],
                ${asks.map((a) => a.from.toISOString())}::timestamptz[], ${asks.map((a) => a.to.toISOString())}::timestamptz[])
         AS r(i, account_id, kinds, f, t)
    CROSS JOIN LATERAL (
      SELECT array_agg(account_id ORDER BY account_id) AS ids FROM (
        SELECT DISTINCT o.account_id
        FROM ${raw(linkValuesOf("r", hubLimits))} v
        JOIN account_link_key o ON o.kind = v.kind AND o.value = v.value AND o.account_id <> r.account_id
        WHERE v.users <= v.lim AND o.last_seen_at >= r.f AND o.first_seen_at <= r.t
        ORDER BY o.account_id
        LIMIT ${maxLinkedAccounts}) x
    ) l`));
  const byIndex = new Map(rows.map((r) => [Number(r.i), r.ids ?? []]));
  return asks.map((_, i) => byIndex.get(i) ?? []);
}

/** The account fact's row: status and first sight, the provider's profile (null fields when it gave none), confirmed cases. */
export type AccountRow = { status: string; first_seen_at: Date; created_at: Date | null; verification: string | null; plan: string | null; confirmed: unknown };

/** The account fact's rows of many accounts in one statement (a batch judges many account-minutes). */
export async function accountRowsMany(db: Sql, accountIds: string[]): Promise<Map<string, AccountRow>> {
  if (accountIds.length === 0) return new Map();
  const rows = await db.query<AccountRow & { id: string }>(prepared("cg_account_rows", sql`
    SELECT a.id, a.status::text AS status, a.first_seen_at, p.created_at, p.verification, p.plan,
           (SELECT count(*) FROM violation_case c WHERE c.account_id = a.id AND c.status IN ('confirmed', 'enforced')) AS confirmed
    FROM account a LEFT JOIN account_profile p ON p.account_id = a.id WHERE a.id = ANY(${accountIds}::text[])`));
  return new Map(rows.map((r) => [r.id, r]));
}
