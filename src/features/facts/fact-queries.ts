// The statements behind the linked-account facts and the account fact: linked accounts through
// account_link_key, and account rows. Each takes many asks at once (fact-loader.ts batches them).
import { prepared, sql } from "../../db/sql";
import type { LinkBy } from "../../engine/fact-catalog";
import type { Queryable } from "./usage-rollups";

/** A value shared by more accounts than this (a big NAT, a public template) links no one usefully: the cap bounds the work. */
export const maxLinkedAccounts = 5000;

export function linkKindsFor(by: LinkBy): string[] {
  return by === "any" ? ["paymentFingerprint", "ipPrefix", "orgId"] : [by];
}

/** Accounts (other than this one) that used a value of the given kinds that this one used, both within the window. */
export async function linkedAccountIds(db: Queryable, accountId: string, by: LinkBy, from: Date, to: Date): Promise<string[]> {
  return (await linkedAccountIdsMany(db, [{ accountId, by, from, to }]))[0]!;
}

/** linkedAccountIds for many (account, kinds, window) asks in one statement: evaluation asks for a whole batch. */
export async function linkedAccountIdsMany(db: Queryable, asks: { accountId: string; by: LinkBy; from: Date; to: Date }[]): Promise<string[][]> {
  if (asks.length === 0) return [];
  const rows = await db.query<{ i: number; ids: string[] | null }>(prepared("cg_linked_accounts_many", sql`
    SELECT r.i, l.ids
    FROM unnest(${asks.map((_, i) => i)}::int[], ${asks.map((a) => a.accountId)}::text[], ${asks.map((a) => linkKindsFor(a.by).join(","))}::text[],
                ${asks.map((a) => a.from.toISOString())}::timestamptz[], ${asks.map((a) => a.to.toISOString())}::timestamptz[])
         AS r(i, account_id, kinds, f, t)
    CROSS JOIN LATERAL (
      SELECT array_agg(account_id ORDER BY account_id) AS ids FROM (
        SELECT DISTINCT o.account_id
        FROM account_link_key m
        JOIN account_link_key o ON o.kind = m.kind AND o.value = m.value AND o.account_id <> m.account_id
        WHERE m.account_id = r.account_id AND m.kind = ANY(string_to_array(r.kinds, ','))
          AND m.last_seen_at >= r.f AND m.first_seen_at <= r.t
          AND o.last_seen_at >= r.f AND o.first_seen_at <= r.t
        ORDER BY o.account_id
        LIMIT ${maxLinkedAccounts}) x
    ) l`));
  const byIndex = new Map(rows.map((r) => [Number(r.i), r.ids ?? []]));
  return asks.map((_, i) => byIndex.get(i) ?? []);
}

export type AccountRow = { status: string; first_seen_at: Date; confirmed: unknown };

/** The account fact's rows of many accounts in one statement (a batch judges many account-minutes). */
export async function accountRowsMany(db: Queryable, accountIds: string[]): Promise<Map<string, AccountRow>> {
  if (accountIds.length === 0) return new Map();
  const rows = await db.query<AccountRow & { id: string }>(prepared("cg_account_rows", sql`
    SELECT a.id, a.status::text AS status, a.first_seen_at,
           (SELECT count(*) FROM violation_case c WHERE c.account_id = a.id AND c.status IN ('confirmed', 'enforced')) AS confirmed
    FROM account a WHERE a.id = ANY(${accountIds}::text[])`));
  return new Map(rows.map((r) => [r.id, r]));
}
