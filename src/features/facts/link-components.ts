// Linked accounts as connected components, so that a cluster fact costs the same for a cluster of
// 20 or of 20,000 accounts. Per link scope ("any": payment fingerprint, network prefix or org; or
// one link kind), accounts that share a value are in one component, directly or through others,
// unless the value is a hub (used by more accounts than the hub limit: a campus or carrier NAT, a
// shared card), which joins no one.
//
// State: link_component (account, scope) -> component key, for accounts that are not alone (an
// account without a row is its own component); link_member and link_value, which and how many
// accounts each value has joined and whether it is a hub; and the
// component rollups (component_minute/hour/day), which hold each component's usage as the account
// rollups hold an account's. Ingestion adds each event to its account's components in the same
// statement that adds it to the account's rollups (event-repository.ts).
//
// Components are kept for the scopes in link_scope: "any" and those the rules name; a pass
// asked for a scope not kept builds it from link_member first.
//
// A uniting pass (uniteComponents) takes the link keys ingestion has stored since the last pass
// (past a mark on account_link_key's ids),
// finds the values they share, and joins components: the smaller into the larger (union by size,
// so an account is moved O(log n) times over its life), moving the smaller's link_component rows
// and rollup rows to the larger's key, or, for an account that was alone, copying its account
// rollups under the key. A value newly found to be a hub splits the components it had joined:
// they are rebuilt from their members' other links. Passes run one at a time (the compaction
// lock, which also keeps the compactor off the rows being moved) and move rows only under the
// exclusive side of the ingestion lock, whose shared side every ingestion transaction takes
// before it writes: no ingestion statement writes under a component key that a pass is retiring,
// and every account row a pass copies is complete. The evaluation worker runs a pass before each
// batch, so a batch sees the links stored before it was claimed.
import type { Database, Sql } from "../../db/database";
import { raw, sql } from "../../db/sql";
import type { LinkBy } from "../../engine/fact-catalog";
import { linkScopesOf } from "../../engine/window-needs";
import { type HubLimits, defaultHubLimits, strongLinkKinds } from "../events/link-policy";
import { linkKindsFor } from "./fact-queries";
import { compactionLock } from "./rollup-compactor";
import { accountTables, componentTables } from "./usage-rollups";

/** The lock ingestion takes shared and a uniting pass exclusive (see above). */
export const ingestionLock = "4236936583016097352";

export const linkScopes: readonly LinkBy[] = ["any", "paymentFingerprint", "ipPrefix", "orgId", "promptTemplateHash", "sharedIpPrefix", "sharedIpPrefixTemplate", "sharedIpPrefixWave"];

/** The key of the component that starts from `accountId` alone; a component keeps the key of the larger side of each union. */
export const componentKey = (scope: LinkBy, accountId: string) => `${scope}:${accountId}`;

/** A component, before a pass: its key and size (an account alone is size 1, with its own key). */
export type ComponentNode = { key: string; size: number };

/**
 * Which components merge into which, given each involved account's component and groups of
 * accounts that share a value: every group becomes one component, transitively. Union by size:
 * each merged set keeps the key of its largest component (the smallest key among equals), and
 * every other component of the set moves into it. Pure: the uniting pass's decision.
 */
export function planUnions(componentOf: (accountId: string) => ComponentNode, groups: string[][]): Map<string, string> {
  const parent = new Map<string, string>();
  const node = new Map<string, ComponentNode>();
  const find = (k: string): string => {
    let root = k;
    while (parent.get(root) !== root) root = parent.get(root)!;
    for (let at = k; at !== root; ) {
      const next = parent.get(at)!;
      parent.set(at, root);
      at = next;
    }
    return root;
  };
  const larger = (a: ComponentNode, b: ComponentNode) => (a.size !== b.size ? a.size > b.size : a.key < b.key);
  for (const group of groups) {
    let root: string | undefined;
    for (const accountId of group) {
      const c = componentOf(accountId);
      if (!parent.has(c.key)) {
        parent.set(c.key, c.key);
        node.set(c.key, c);
      }
      if (root === undefined) {
        root = find(c.key);
        continue;
      }
      const other = find(c.key);
      if (other === root) continue;
      // The root of a set is always its largest component: the other set's root joins the larger.
      const [keep, gone] = larger(node.get(root)!, node.get(other)!) ? [root, other] : [other, root];
      parent.set(gone, keep);
      root = keep;
    }
  }
  const moves = new Map<string, string>();
  for (const k of parent.keys()) {
    const root = find(k);
    if (root !== k) moves.set(k, root);
  }
  return moves;
}

/** Components among `members` from their links (values shared within the set): groups of two or more. Pure. */
export function componentsAmong(links: { value: string; accountId: string }[]): string[][] {
  const byValue = new Map<string, string[]>();
  for (const l of links) {
    const list = byValue.get(l.value);
    if (list) list.push(l.accountId);
    else byValue.set(l.value, [l.accountId]);
  }
  const moves = planUnions((id) => ({ key: id, size: 1 }), [...byValue.values()]);
  const sets = new Map<string, string[]>();
  for (const [from, to] of moves) {
    const set = sets.get(to) ?? [to];
    set.push(from);
    sets.set(to, set);
  }
  return [...sets.values()].map((s) => s.sort());
}

export type UniteResult = { linkKeys: number; values: number; hubs: number; moved: number; rebuilt: number; built: LinkBy[] };

/** The scopes a uniting pass keeps for these rules: "any" (every hit stores its cluster from it) and those they read. */
export function scopesFor(rules: readonly { conditions: unknown }[]): LinkBy[] {
  return [...new Set<LinkBy>(["any", ...rules.flatMap((r) => linkScopesOf(r.conditions))])].sort();
}

/**
 * One uniting pass (see the top of this file): every link key stored since the last pass (past
 * link_progress's mark) is united, in one transaction, in the scopes kept (link_scope); a scope of
 * `scopes` not kept yet is built first from every value's members. `scopes` defaults to all of
 * them; evaluation asks for scopesFor(its rules). `hubLimits`: the link policy's (link-policy.ts; tests use small ones).
 */
export async function uniteComponents(db: Database, opts: { hubLimits?: HubLimits; scopes?: readonly LinkBy[] } = {}): Promise<UniteResult> {
  const hubLimits = opts.hubLimits ?? defaultHubLimits;
  const wanted = opts.scopes ?? linkScopes;
  // Nothing new and every scope kept (the usual case once caught up): no lock to wait for behind a compaction pass.
  const [waiting] = await db.query<{ any: boolean; kept: string[] }>(sql`
    SELECT EXISTS (SELECT 1 FROM account_link_key WHERE id > (SELECT last_key FROM link_progress WHERE id = 1) AND NOT compacted) AS any,
           array(SELECT scope FROM link_scope) AS kept`);
  const nothing = (linkKeys: number): UniteResult => ({ linkKeys, values: 0, hubs: 0, moved: 0, rebuilt: 0, built: [] });
  if (!waiting?.any && wanted.every((w) => waiting?.kept.includes(w))) return nothing(0);
  return db.transaction(async (s) => {
    await s.query(`SELECT pg_advisory_xact_lock(${compactionLock})`);
    const kept = new Set((await s.query<{ scope: LinkBy }>(`SELECT scope FROM link_scope`)).map((r) => r.scope));
    // The new mark, taken while no ingestion transaction is in flight: every id up to it is committed.
    await s.query(`SELECT pg_advisory_lock(${ingestionLock})`);
    const [mark] = await s.query<{ from: string; to: string }>(`
      SELECT (SELECT last_key FROM link_progress WHERE id = 1)::text AS from, coalesce((SELECT max(id) FROM account_link_key), 0)::text AS to`);
    await s.query(`SELECT pg_advisory_unlock(${ingestionLock})`);
    const range = sql`k.id > ${mark!.from}::bigint AND k.id <= ${mark!.to}::bigint AND NOT k.compacted`;
    // Merged rows (compacted, with new ids) only repeat keys the passes have read.
    const [count] = await s.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM account_link_key k WHERE ${range}`);
    const result = nothing(Number(count?.n ?? 0));
    // Only an account new to a value changes anything (link_member says which are): it is counted
    // on the value, and joins the value's other accounts, which are all in one component already
    // (each joined one of them, and so all), unless the value has become a hub with it.
    const added = await s.query<{ kind: string; value: string; ids: string[] }>(sql`
      WITH new AS (
        INSERT INTO link_member (kind, value, account_id)
        SELECT DISTINCT k.kind, k.value, k.account_id FROM account_link_key k WHERE ${range}
        ON CONFLICT DO NOTHING
        RETURNING kind, value, account_id
      )
      SELECT kind, value, array_agg(account_id ORDER BY account_id) AS ids FROM new GROUP BY 1, 2`);
    result.values = added.length;
    const tallies = added.length
      ? await s.query<{ kind: string; value: string; users: number; hub: boolean }>(sql`
          INSERT INTO link_value AS l (kind, value, users)
          SELECT * FROM unnest(${added.map((a) => a.kind)}::text[], ${added.map((a) => a.value)}::text[], ${added.map((a) => a.ids.length)}::int[])
          ON CONFLICT (kind, value) DO UPDATE SET users = l.users + excluded.users
          RETURNING l.kind, l.value, l.users, l.hub`)
      : [];
    const tally = new Map(tallies.map((t) => [`${t.kind}\u0000${t.value}`, t]));
    const hubs: { kind: string; value: string }[] = [];
    const joining: { kind: string; value: string; ids: string[]; before: number }[] = [];
    for (const a of added) {
      const t = tally.get(`${a.kind}\u0000${a.value}`)!;
      if (t.hub) continue;
      if (t.users > hubLimits[a.kind as keyof HubLimits]) hubs.push(a);
      else if (t.users > 1) joining.push({ ...a, before: t.users - a.ids.length });
    }
    result.hubs = hubs.length;
    // One account the value joined before, for each value that had any.
    const earlier = joining.filter((j) => j.before > 0);
    // The first (new + 1) members of the value hold at least one it joined before.
    const firstMembers = earlier.length
      ? await s.query<{ kind: string; value: string; ids: string[] }>(sql`
          SELECT v.kind, v.value, o.ids
          FROM unnest(${earlier.map((j) => j.kind)}::text[], ${earlier.map((j) => j.value)}::text[], ${earlier.map((j) => j.ids.length + 1)}::int[]) AS v(kind, value, n)
          CROSS JOIN LATERAL (
            SELECT array_agg(account_id) AS ids FROM (
              SELECT m.account_id FROM link_member m WHERE m.kind = v.kind AND m.value = v.value ORDER BY m.account_id LIMIT v.n) x) o`)
      : [];
    const newIds = new Map(earlier.map((j) => [`${j.kind}\u0000${j.value}`, new Set(j.ids)]));
    const beforeOf = new Map(
      firstMembers.map((f) => {
        const fresh = newIds.get(`${f.kind}\u0000${f.value}`)!;
        return [`${f.kind}\u0000${f.value}`, f.ids.find((id) => !fresh.has(id))];
      }),
    );
    const groups = joining.map((j) => {
      const prior = beforeOf.get(`${j.kind}\u0000${j.value}`);
      return { kind: j.kind, ids: prior ? [prior, ...j.ids] : j.ids };
    });

    // From here rows move: no ingestion transaction may be in flight.
    await s.query(`SELECT pg_advisory_xact_lock(${ingestionLock})`);
    if (hubs.length) {
      await s.query(sql`
        UPDATE link_value l SET hub = true FROM unnest(${hubs.map((h) => h.kind)}::text[], ${hubs.map((h) => h.value)}::text[]) AS h(kind, value)
        WHERE l.kind = h.kind AND l.value = h.value`);
      // The components a new hub had joined are rebuilt without it.
      // Every account that used the value (once per hub), not only the first hubLimit + 1: any of them may be in a component it joined.
      const touched = await s.query<{ component: string }>(sql`
        SELECT DISTINCT c.component
        FROM unnest(${hubs.map((h) => h.kind)}::text[], ${hubs.map((h) => h.value)}::text[]) AS h(kind, value)
        JOIN link_member k ON k.kind = h.kind AND k.value = h.value
        JOIN link_component c ON c.account_id = k.account_id AND (c.scope = h.kind OR (c.scope = 'any' AND h.kind = ANY(${[...strongLinkKinds]}::text[])))`);
      result.rebuilt = await rebuild(s, touched.map((t) => t.component));
    }
    for (const scope of linkScopes.filter((k) => kept.has(k))) {
      const kinds = linkKindsFor(scope);
      const scoped = groups.filter((g) => kinds.includes(g.kind) && g.ids.length > 1).map((g) => g.ids);
      if (scoped.length) result.moved += await unite(s, scope, scoped);
    }
    await s.query(sql`UPDATE link_progress SET last_key = ${mark!.to}::bigint WHERE id = 1`);
    // Scopes asked for and not kept yet: built from every value's members, this pass's included.
    for (const scope of linkScopes.filter((k) => wanted.includes(k) && !kept.has(k))) {
      await build(s, scope);
      result.built.push(scope);
    }
    return result;
  });
}

/** Joins the components of each group's accounts in one scope; returns how many components moved. */
async function unite(s: Sql, scope: LinkBy, groups: string[][]): Promise<number> {
  const accounts = [...new Set(groups.flat())];
  const rows = await s.query<{ account_id: string; component: string }>(sql`
    SELECT c.account_id, c.component FROM unnest(${accounts}::text[]) AS a(id) JOIN link_component c ON c.account_id = a.id AND c.scope = ${scope}`);
  const of = new Map(rows.map((r) => [r.account_id, r.component]));
  const keys = [...new Set(rows.map((r) => r.component))];
  const sizes = new Map(
    keys.length
      ? (await s.query<{ component: string; n: number }>(sql`
          SELECT component, count(*)::int AS n FROM link_component WHERE component = ANY(${keys}::text[]) GROUP BY 1`)).map((r) => [r.component, Number(r.n)])
      : [],
  );
  const alone = new Map<string, string>(); // key of an account alone -> the account
  const moves = planUnions((id) => {
    const key = of.get(id);
    if (key) return { key, size: sizes.get(key) ?? 1 };
    alone.set(componentKey(scope, id), id);
    return { key: componentKey(scope, id), size: 1 };
  }, groups);
  if (moves.size === 0) return 0;
  // Components that exist move whole: their members and rollup rows take the larger's key.
  const existing = [...moves].filter(([from]) => !alone.has(from));
  if (existing.length) {
    const from = existing.map(([f]) => f);
    const to = existing.map(([, t]) => t);
    await s.query(sql`UPDATE link_component c SET component = m.t FROM unnest(${from}::text[], ${to}::text[]) AS m(f, t) WHERE c.component = m.f`);
    for (const table of ["component_minute", "component_hour", "component_day"]) {
      await s.query(sql`UPDATE ${raw(table)} c SET account_id = m.t FROM unnest(${from}::text[], ${to}::text[]) AS m(f, t) WHERE c.account_id = m.f`);
    }
  }
  // Accounts alone so far join with their own rollups: those moved in and, as the key a set keeps, those that stay.
  const joining: { accountId: string; key: string }[] = [];
  for (const [from, to] of moves) if (alone.has(from)) joining.push({ accountId: alone.get(from)!, key: to });
  for (const to of new Set(moves.values())) if (alone.has(to)) joining.push({ accountId: alone.get(to)!, key: to });
  await addMembers(s, scope, joining);
  return moves.size;
}

/** Makes accounts members of components: link_component rows, and their account rollups copied under the key. */
async function addMembers(s: Sql, scope: string, members: { accountId: string; key: string }[]): Promise<void> {
  if (members.length === 0) return;
  const ids = members.map((m) => m.accountId);
  const keys = members.map((m) => m.key);
  await s.query(sql`
    INSERT INTO link_component (account_id, scope, component) SELECT a, ${scope}, k FROM unnest(${ids}::text[], ${keys}::text[]) AS m(a, k)`);
  // Summed per key, bucket and flag, so that a component of 20,000 gets a few rows per bucket, not
  // one per member. Flags are kept: an account's merged hour rows are in its day rows, and the
  // sums stay so under the key.
  for (const tier of ["minute", "hour", "day"] as const) {
    const peak = tier !== "minute";
    await s.query(sql`
      WITH src AS (
        SELECT m.k AS account_id, u.bucket, u.compacted, u.requests, u.input_tokens, u.output_tokens, u.signals, u."values"${raw(peak ? ", u.peak_minute_requests" : "")}
        FROM unnest(${ids}::text[], ${keys}::text[]) AS m(a, k) JOIN ${raw(accountTables[tier])} u ON u.account_id = m.a
      ), totals AS (
        SELECT account_id, bucket, compacted, sum(requests) AS requests, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
               ${raw(peak ? ", max(peak_minute_requests) AS peak" : "")}
        FROM src GROUP BY 1, 2, 3
      ), sig AS (
        SELECT account_id, bucket, compacted, jsonb_object_agg(k, n) AS m FROM (
          SELECT src.account_id, src.bucket, src.compacted, e.key AS k, sum(e.value::bigint) AS n FROM src, LATERAL jsonb_each(src.signals) AS e GROUP BY 1, 2, 3, 4
        ) x GROUP BY 1, 2, 3
      ), val AS (
        -- The models and prompt templates (what component rows keep of the values: usage-rollups.ts).
        SELECT account_id, bucket, compacted, jsonb_object_agg(k, n) AS m FROM (
          SELECT src.account_id, src.bucket, src.compacted, e.key AS k, sum(e.value::bigint) AS n FROM src, LATERAL jsonb_each(src."values") AS e
          WHERE e.key LIKE 'model:%' OR e.key LIKE 'template:%' GROUP BY 1, 2, 3, 4
        ) x GROUP BY 1, 2, 3
      )
      INSERT INTO ${raw(componentTables[tier])} (account_id, bucket, requests, input_tokens, output_tokens, "values", signals${raw(peak ? ", peak_minute_requests" : "")}, compacted)
      SELECT t.account_id, t.bucket, t.requests, t.input_tokens, t.output_tokens, coalesce(v.m, '{}'), coalesce(g.m, '{}')${raw(peak ? ", t.peak" : "")}, t.compacted
      FROM totals t LEFT JOIN sig g USING (account_id, bucket, compacted) LEFT JOIN val v USING (account_id, bucket, compacted)`);
  }
}

/** Starts keeping a scope: its components from the members of every value of its kinds that joins accounts (more than one, not a hub). */
async function build(s: Sql, scope: LinkBy): Promise<void> {
  const links = await s.query<{ kind: string; value: string; account_id: string }>(sql`
    SELECT m.kind, m.value, m.account_id FROM link_member m JOIN link_value v ON v.kind = m.kind AND v.value = m.value
    WHERE m.kind = ANY(${linkKindsFor(scope)}::text[]) AND NOT v.hub AND v.users > 1`);
  const sets = componentsAmong(links.map((l) => ({ value: `${l.kind}\u0000${l.value}`, accountId: l.account_id })));
  await addMembers(s, scope, sets.flatMap((set) => set.map((accountId) => ({ accountId, key: componentKey(scope, set[0]!) }))));
  await s.query(sql`INSERT INTO link_scope (scope) VALUES (${scope})`);
}

/**
 * Rebuilds components from their members' links that are not hubs: the members are split into the
 * components those links form, each with its rollups copied anew. Returns the components rebuilt.
 */
async function rebuild(s: Sql, components: string[]): Promise<number> {
  if (components.length === 0) return 0;
  const members = await s.query<{ account_id: string; scope: LinkBy; component: string }>(sql`
    SELECT account_id, scope, component FROM link_component WHERE component = ANY(${components}::text[])`);
  await s.query(sql`DELETE FROM link_component WHERE component = ANY(${components}::text[])`);
  for (const table of ["component_minute", "component_hour", "component_day"]) {
    await s.query(sql`DELETE FROM ${raw(table)} WHERE account_id = ANY(${components}::text[])`);
  }
  for (const scope of linkScopes) {
    const ids = members.filter((m) => m.scope === scope).map((m) => m.account_id);
    if (ids.length === 0) continue;
    const links = await s.query<{ kind: string; value: string; account_id: string }>(sql`
      SELECT DISTINCT k.kind, k.value, k.account_id FROM account_link_key k
      JOIN unnest(${ids}::text[]) AS m(id) ON k.account_id = m.id
      WHERE k.kind = ANY(${linkKindsFor(scope)}::text[])
        AND NOT EXISTS (SELECT 1 FROM link_value h WHERE h.kind = k.kind AND h.value = k.value AND h.hub)`);
    const sets = componentsAmong(links.map((l) => ({ value: `${l.kind}\u0000${l.value}`, accountId: l.account_id })));
    await addMembers(s, scope, sets.flatMap((set) => set.map((accountId) => ({ accountId, key: componentKey(scope, set[0]!) }))));
  }
  return components.length;
}
