// What the provider says of an account: when it was created, its verification level, plan and
// org. Set through PUT /v1/accounts/:id, the bulk PUT /v1/accounts (JSON array or NDJSON), or
// optional fields of usage events; every form goes through one set-based statement. A field left
// out is kept, a field sent as null is cleared. Facts take the account's age from `createdAt`
// when it is known (fact-source.ts), and say so in the evidence when they fell back to first sight.
import { z } from "zod";
import type { FieldError } from "../../engine/json-input";
import { issuesToFieldErrors, validationFailed } from "../../shared/errors";
import { ParseFailure, storableText } from "../../shared/parse";
import { raw, sql } from "../../db/sql";
import type { Sql } from "../../db/database";
import type { AccountProfile } from "./account-views";

/** Accounts one bulk request may set. */
export const maxProfilesPerRequest = 10_000;
/** A creation time may be this far ahead of the server's clock (clock skew), no more. */
const futureSkewMs = 5 * 60_000;

export const profileToken = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, "must be 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit");
export const profileCreatedAt = z.iso
  .datetime({ offset: true, message: "must be an ISO 8601 date-time with a zone, e.g. 2026-11-24T19:00:00Z" })
  .transform((s, ctx) => {
    const ms = Date.parse(s);
    if (!(ms >= Date.parse("1970-01-01T00:00:00Z"))) {
      ctx.addIssue({ code: "custom", message: "must be after 1970" });
      return z.NEVER;
    }
    if (ms > Date.now() + futureSkewMs) {
      ctx.addIssue({ code: "custom", message: "must not be in the future" });
      return z.NEVER;
    }
    return new Date(ms).toISOString();
  });

export const profileFields = {
  createdAt: profileCreatedAt.nullable().optional().describe("when the provider created the account (null clears it)"),
  verification: profileToken.nullable().optional().describe("the account's verification level, e.g. email, phone, id, business"),
  plan: profileToken.nullable().optional().describe("the account's plan or tier, e.g. free, pro, enterprise"),
  orgId: storableText(128).nullable().optional().describe("the organization the provider files the account under"),
};
export type ProfileField = keyof typeof profileFields;
const fieldNames = Object.keys(profileFields) as ProfileField[];

export const profileBody = z
  .strictObject(profileFields)
  .refine((p) => fieldNames.some((f) => p[f] !== undefined), `give at least one of ${fieldNames.join(", ")}`);
export const profileItem = z.strictObject({ accountId: storableText(128), ...profileFields });

export type ProfileChange = { accountId: string } & { [F in ProfileField]?: string | null };

/** Validates a bulk request's items, all or nothing: every fault with its item's index, and an account twice is a fault. */
export function parseProfileItems(items: unknown[]): ProfileChange[] {
  if (items.length === 0) throw validationFailed([{ path: "", message: "the body is empty: send 1 to 10000 accounts" }]);
  if (items.length > maxProfilesPerRequest) {
    throw validationFailed([{ path: "", message: `the body has ${items.length} accounts; at most ${maxProfilesPerRequest} are accepted per request` }]);
  }
  const errors: FieldError[] = [];
  const out: ProfileChange[] = [];
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    if (item instanceof ParseFailure) {
      errors.push({ path: `[${i}]`, message: item.message });
      return;
    }
    const r = profileItem.safeParse(item);
    if (!r.success) {
      errors.push(...issuesToFieldErrors(r.error.issues, [i]));
      return;
    }
    const first = seen.get(r.data.accountId);
    if (first !== undefined) errors.push({ path: `[${i}].accountId`, message: `'${r.data.accountId}' is also item ${first}: send each account once` });
    else if (!fieldNames.some((f) => r.data[f] !== undefined)) errors.push({ path: `[${i}]`, message: `give at least one of ${fieldNames.join(", ")}` });
    seen.set(r.data.accountId, i);
    out.push(r.data);
  });
  if (errors.length) throw validationFailed(errors);
  return out;
}

const columns: Record<ProfileField, string> = { createdAt: "created_at", verification: "verification", plan: "plan", orgId: "org_id" };

/**
 * Sets the given fields of many accounts in one statement, in the caller's transaction (or alone):
 * a field left out is kept, null clears it. Each account at most once in `changes`. `fillOnly`
 * (what events carry): only fields the profile does not have yet are set, so a retried old batch
 * never undoes what the provider's API set since.
 */
export async function upsertProfiles(db: Sql, changes: ProfileChange[], opts: { fillOnly?: boolean } = {}): Promise<AccountProfile[]> {
  if (changes.length === 0) return [];
  const rows = JSON.stringify(changes.map((c) => ({ ...c, sent: fieldNames.filter((f) => c[f] !== undefined) })));
  // A field not sent keeps the stored value. Which fields each row sent is one map, built once per
  // statement (an uncorrelated subquery), looked up by key per row: no scan of the batch per row.
  const keep = (f: ProfileField) =>
    `${columns[f]} = CASE WHEN (SELECT m FROM sent) -> excluded.account_id ? '${f}'${opts.fillOnly ? ` AND p.${columns[f]} IS NULL` : ""} THEN excluded.${columns[f]} ELSE p.${columns[f]} END`;
  const stored = await db.query<{ account_id: string; created_at: Date | null; verification: string | null; plan: string | null; org_id: string | null; updated_at: Date }>(sql`
    WITH r AS (
      SELECT * FROM jsonb_to_recordset(${rows}::jsonb)
        AS r("accountId" text, "createdAt" timestamptz, verification text, plan text, "orgId" text, sent jsonb)
    ), sent AS (
      SELECT jsonb_object_agg("accountId", sent) AS m FROM r
    )
    INSERT INTO account_profile AS p (account_id, created_at, verification, plan, org_id, updated_at)
    SELECT "accountId", "createdAt", verification, plan, "orgId", now() FROM r
    ORDER BY "accountId"
    ON CONFLICT (account_id) DO UPDATE SET ${raw(fieldNames.map(keep).join(", "))}, updated_at = now()
    RETURNING p.account_id, p.created_at, p.verification, p.plan, p.org_id, p.updated_at`);
  return stored.map(toProfile).sort((a, b) => (a.accountId < b.accountId ? -1 : 1));
}

export async function readProfile(db: Sql, accountId: string): Promise<AccountProfile | null> {
  const [row] = await db.query<{ account_id: string; created_at: Date | null; verification: string | null; plan: string | null; org_id: string | null; updated_at: Date }>(sql`
    SELECT account_id, created_at, verification, plan, org_id, updated_at FROM account_profile WHERE account_id = ${accountId}`);
  return row ? toProfile(row) : null;
}

function toProfile(r: { account_id: string; created_at: Date | null; verification: string | null; plan: string | null; org_id: string | null; updated_at: Date }): AccountProfile {
  return {
    accountId: r.account_id,
    createdAt: r.created_at ? new Date(r.created_at).toISOString() : null,
    verification: r.verification,
    plan: r.plan,
    orgId: r.org_id,
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

/** The event fields that carry profile fields (usage events may say what the gateway knows of the account). */
export const eventProfileFields = { accountCreatedAt: "createdAt", accountVerification: "verification", accountPlan: "plan" } as const;

/**
 * The profile changes a batch of events carries: per account, each field as its latest event
 * (by occurredAt) gave it. Empty when no event has one (the usual case: nothing is written).
 * Stored with `fillOnly`: events fill what the profile lacks; the API changes what it has.
 */
export function profileChangesOf(events: readonly ({ accountId: string; occurredAt: string } & Partial<Record<keyof typeof eventProfileFields, string | null>>)[]): ProfileChange[] {
  const byAccount = new Map<string, { change: ProfileChange; at: Partial<Record<ProfileField, number>> }>();
  for (const e of events) {
    for (const [eventField, field] of Object.entries(eventProfileFields) as [keyof typeof eventProfileFields, ProfileField][]) {
      const v = e[eventField];
      if (v === undefined || v === null) continue;
      const ms = Date.parse(e.occurredAt);
      let entry = byAccount.get(e.accountId);
      if (!entry) byAccount.set(e.accountId, (entry = { change: { accountId: e.accountId }, at: {} }));
      if ((entry.at[field] ?? Number.NEGATIVE_INFINITY) <= ms) {
        entry.change[field] = v;
        entry.at[field] = ms;
      }
    }
  }
  return [...byAccount.values()].map((e) => e.change);
}
