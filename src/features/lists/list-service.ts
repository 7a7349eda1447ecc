// Named lists: created empty, changed only as a whole new version (replace, add or remove a set
// of values) in one transaction with its change row and audit entry, so a rule never sees half an
// import. Rules name them with inList / notInList { "list": name } (src/engine/named-lists.ts);
// the evaluation process holds each list it needs as a Set (list-catalog.ts).
import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { Database, Sql } from "../../db/database";
import { sql } from "../../db/sql";
import { z } from "zod";
import { listRefs } from "../../engine/named-lists";
import type { RuleDocument } from "../../engine/rule-schema";
import { type FieldError, storable, unstorableMessage } from "../../engine/json-input";
import { AppError, notFound, validationFailed } from "../../shared/errors";
import { decodeCursor, encodeCursor } from "../../shared/pagination";
import { type Actor, appendAuditSql } from "../audit/audit-log";
import type { ListChange, ListChangeResult, ListDetail, ListEntryPage, ListMode, ListPage, ListView } from "./list-views";

/** The lock of rule writes (rule-service.ts), taken by a list's deletion too. */
const ruleWriteLock = 4236936583016097350n;

/** The most entries one list holds (and one change carries). */
export const maxListEntries = 1_000_000;
export const maxListValueLength = 512;
/** The largest NDJSON body of one change (lists-router.ts): a million values of about 60 characters. */
export const maxListBodyBytes = 64 * 1024 * 1024;
/** Values per statement when a change is written. */
const chunk = 10_000;
const sampleSize = 100;

type ListRow = { name: string; description: string; version: number; size: number; created_at: Date; created_by: string; updated_at: Date; updated_by: string };
type ChangeRow = { version: number; mode: string; added: number; removed: number; size: number; actor: string; at: Date; sample: { added?: string[]; removed?: string[] } };

/** Values checked between yields to the event loop: a million never hold it for long. */
const valuesPerSlice = 20_000;

/** The fault of one value, if any. */
function valueFault(v: unknown): string | undefined {
  if (typeof v !== "string") return "must be a string";
  if (v.length === 0 || v.length > maxListValueLength) return `must be 1 to ${maxListValueLength} chars`;
  if (!storable(v)) return unstorableMessage;
  return undefined;
}

/** The faults of a change's values (each with its path), none when all can be stored. At most 100 are listed. */
export function valueFaults(values: readonly unknown[], pathOf: (i: number) => string): FieldError[] {
  const errors: FieldError[] = [];
  if (values.length > maxListEntries) errors.push({ path: "", message: `at most ${maxListEntries} values in one change; this one has ${values.length}` });
  for (let i = 0; i < values.length && errors.length < sampleSize; i++) {
    const fault = valueFault(values[i]);
    if (fault) errors.push({ path: pathOf(i), message: fault });
  }
  return errors;
}

/**
 * A change's values, checked (a 400 with the path of each fault, nothing stored) and without
 * repeats, yielding to the event loop every few thousand: the API thread keeps answering the
 * gateway while a million values are checked.
 */
export async function distinctValues(values: readonly unknown[], pathOf: (i: number) => string): Promise<string[]> {
  const errors: FieldError[] = [];
  if (values.length > maxListEntries) throw validationFailed([{ path: "", message: `at most ${maxListEntries} values in one change; this one has ${values.length}` }]);
  const seen = new Set<string>();
  for (let i = 0; i < values.length; i++) {
    if (i % valuesPerSlice === valuesPerSlice - 1) await yieldToLoop();
    const fault = valueFault(values[i]);
    if (fault) {
      if (errors.length < sampleSize) errors.push({ path: pathOf(i), message: fault });
    } else seen.add(values[i] as string);
  }
  if (errors.length) throw validationFailed(errors, "some values cannot be stored; nothing was changed");
  return [...seen];
}

export function createListService(db: Database) {
  /** Rules whose current version, or running shadow version, names a list: name -> rule ids. */
  async function usage(tx: Sql = db): Promise<Map<string, string[]>> {
    const rows = await tx.query<{ rule_id: string; document: RuleDocument }>(sql`
      SELECT v.rule_id, v.document FROM rule r JOIN rule_version v ON v.rule_id = r.id AND v.version = r.current_version
      WHERE v.document::text LIKE '%"list"%'
      UNION ALL
      SELECT v.rule_id, v.document FROM rule_shadow s JOIN rule_version v ON v.rule_id = s.rule_id AND v.version = s.version
      WHERE s.stopped_at IS NULL AND v.document::text LIKE '%"list"%'`);
    const used = new Map<string, Set<string>>();
    for (const r of rows) for (const { list } of listRefs(r.document.conditions)) (used.get(list) ?? used.set(list, new Set()).get(list)!).add(r.rule_id);
    return new Map([...used].map(([k, v]) => [k, [...v].sort()]));
  }

  const view = (r: ListRow, used: Map<string, string[]>): ListView => ({
    name: r.name,
    description: r.description,
    version: r.version,
    size: r.size,
    createdAt: new Date(r.created_at).toISOString(),
    createdBy: r.created_by,
    updatedAt: new Date(r.updated_at).toISOString(),
    updatedBy: r.updated_by,
    usedBy: used.get(r.name) ?? [],
  });
  const changeView = (c: ChangeRow): ListChange => ({
    version: c.version,
    mode: c.mode as ListChange["mode"],
    added: c.added,
    removed: c.removed,
    size: c.size,
    actor: c.actor,
    at: new Date(c.at).toISOString(),
    sample: { added: c.sample.added ?? [], removed: c.sample.removed ?? [] },
  });

  async function row(tx: Sql, name: string, lock = false): Promise<ListRow> {
    const [r] = await tx.query<ListRow>(lock ? sql`SELECT * FROM named_list WHERE name = ${name} FOR UPDATE` : sql`SELECT * FROM named_list WHERE name = ${name}`);
    if (!r) throw notFound("list", name);
    return r;
  }

  async function create(input: { name: string; description?: string }, { actor, requestId }: Actor): Promise<ListView> {
    return db.transaction(async (tx) => {
      const [made] = await tx.query<ListRow>(sql`
        INSERT INTO named_list (name, description, created_by, updated_by) VALUES (${input.name}, ${input.description ?? ""}, ${actor}, ${actor})
        ON CONFLICT (name) DO NOTHING RETURNING *`);
      if (!made) throw new AppError("conflict", `list '${input.name}' exists already: POST /v1/lists/${input.name}/entries changes its entries`);
      await tx.query(sql`INSERT INTO named_list_change (list_name, version, mode, added, removed, size, actor) VALUES (${input.name}, 1, 'create', 0, 0, 0, ${actor})`);
      await appendAuditSql(tx, { actor, requestId, action: "list.create", targetType: "list", targetId: input.name, after: { version: 1, description: made.description } });
      return view(made, new Map());
    });
  }

  async function list(q: { limit: number; cursor?: string }): Promise<ListPage> {
    const after = q.cursor ? decodeCursor(q.cursor, z.tuple([z.string()]))[0] : null;
    const rows = await db.query<ListRow>(sql`SELECT * FROM named_list WHERE (${after}::text IS NULL OR name > ${after}) ORDER BY name LIMIT ${q.limit + 1}`);
    const used = await usage();
    const page = rows.slice(0, q.limit);
    return { items: page.map((r) => view(r, used)), nextCursor: rows.length > q.limit ? encodeCursor([page[page.length - 1]!.name]) : null };
  }

  async function get(name: string): Promise<ListDetail> {
    const r = await row(db, name);
    const changes = await db.query<ChangeRow>(sql`SELECT * FROM named_list_change WHERE list_name = ${name} ORDER BY version DESC LIMIT 50`);
    return { ...view(r, await usage()), changes: changes.map(changeView) };
  }

  /** A page of the entries in value order, or (given `value`) that value alone when it is an entry. */
  async function entries(name: string, q: { limit: number; cursor?: string; value?: string }): Promise<ListEntryPage> {
    await row(db, name);
    if (q.value !== undefined) {
      const hit = await db.query<{ value: string }>(sql`SELECT value FROM named_list_entry WHERE list_name = ${name} AND value = ${q.value}`);
      return { items: hit.map((h) => h.value), nextCursor: null };
    }
    const after = q.cursor ? decodeCursor(q.cursor, z.tuple([z.string()]))[0] : null;
    const rows = await db.query<{ value: string }>(sql`
      SELECT value FROM named_list_entry WHERE list_name = ${name} AND (${after}::text IS NULL OR value > ${after}) ORDER BY value LIMIT ${q.limit + 1}`);
    const page = rows.slice(0, q.limit).map((r) => r.value);
    return { items: page, nextCursor: rows.length > q.limit ? encodeCursor([page[page.length - 1]!]) : null };
  }

  /**
   * A new version of the list's entries: `replace` makes them exactly `values`, `add` and `remove`
   * change those given. One transaction (on the driver: a million values outlast Prisma's 5 s),
   * `chunk` values per statement; `unique`: values checked and without repeats (distinctValues).
   */
  async function change(name: string, mode: ListMode, unique: readonly string[], { actor, requestId }: Actor): Promise<ListChangeResult> {
    return db.transaction(async (tx) => {
      const before = await row(tx, name, true);
      const added: string[] = [];
      const removed: string[] = [];
      let addedN = 0;
      let removedN = 0;
      const tally = (into: string[], r: { n: number; sample: string[] | null }) => {
        for (const v of r.sample ?? []) if (into.length < sampleSize) into.push(v);
        return r.n;
      };
      type Tally = { n: number; sample: string[] | null };
      if (mode === "replace") {
        await tx.query(sql`CREATE TEMP TABLE list_import (value text PRIMARY KEY) ON COMMIT DROP`);
        for (let i = 0; i < unique.length; i += chunk) {
          await tx.query(sql`INSERT INTO list_import (value) SELECT unnest(${unique.slice(i, i + chunk)}::text[])`);
        }
        const [del] = await tx.query<Tally>(sql`
          WITH d AS (DELETE FROM named_list_entry e WHERE e.list_name = ${name} AND NOT EXISTS (SELECT 1 FROM list_import i WHERE i.value = e.value) RETURNING e.value)
          SELECT count(*)::int AS n, (array_agg(value))[1:${sampleSize}] AS sample FROM d`);
        removedN = tally(removed, del!);
        const [ins] = await tx.query<Tally>(sql`
          WITH a AS (INSERT INTO named_list_entry (list_name, value) SELECT ${name}, value FROM list_import ON CONFLICT DO NOTHING RETURNING value)
          SELECT count(*)::int AS n, (array_agg(value))[1:${sampleSize}] AS sample FROM a`);
        addedN = tally(added, ins!);
      } else {
        for (let i = 0; i < unique.length; i += chunk) {
          const part = unique.slice(i, i + chunk);
          const [r] = await tx.query<Tally>(
            mode === "add"
              ? sql`WITH a AS (INSERT INTO named_list_entry (list_name, value) SELECT ${name}, unnest(${part}::text[]) ON CONFLICT DO NOTHING RETURNING value)
                    SELECT count(*)::int AS n, (array_agg(value))[1:${sampleSize}] AS sample FROM a`
              : sql`WITH d AS (DELETE FROM named_list_entry WHERE list_name = ${name} AND value = ANY(${part}::text[]) RETURNING value)
                    SELECT count(*)::int AS n, (array_agg(value))[1:${sampleSize}] AS sample FROM d`,
          );
          if (mode === "add") addedN += tally(added, r!);
          else removedN += tally(removed, r!);
        }
      }
      const size = before.size + addedN - removedN;
      if (size > maxListEntries) throw validationFailed([{ path: "", message: `the list would hold ${size} entries; the most is ${maxListEntries}` }]);
      const version = before.version + 1;
      const [after] = await tx.query<ListRow>(sql`
        UPDATE named_list SET version = ${version}, size = ${size}, updated_at = now(), updated_by = ${actor} WHERE name = ${name} RETURNING *`);
      const [c] = await tx.query<ChangeRow>(sql`
        INSERT INTO named_list_change (list_name, version, mode, added, removed, size, actor, sample)
        VALUES (${name}, ${version}, ${mode}, ${addedN}, ${removedN}, ${size}, ${actor}, ${JSON.stringify({ added, removed })}::jsonb) RETURNING *`);
      await appendAuditSql(tx, {
        actor,
        requestId,
        action: `list.${mode}`,
        targetType: "list",
        targetId: name,
        before: { version: before.version, size: before.size },
        after: { version, size, added: addedN, removed: removedN, sample: { added, removed } },
      });
      return { list: view(after!, await usage(tx)), change: changeView(c!) };
    });
  }

  /** Deletes a list no rule names (409 with the rules that do). */
  async function remove(name: string, { actor, requestId }: Actor): Promise<void> {
    await db.transaction(async (tx) => {
      // The lock every write of rules and shadows holds (rule-service.ts): no rule can come to name
      // the list between this check of its users and the delete.
      await tx.query(sql`SELECT pg_advisory_xact_lock(${ruleWriteLock})`);
      const r = await row(tx, name, true);
      const users = (await usage(tx)).get(name) ?? [];
      if (users.length) throw new AppError("conflict", `list '${name}' is named by rule(s) ${users.join(", ")}: change them first`, undefined, { usedBy: users });
      await tx.query(sql`DELETE FROM named_list WHERE name = ${name}`);
      await appendAuditSql(tx, { actor, requestId, action: "list.delete", targetType: "list", targetId: name, before: { version: r.version, size: r.size } });
    });
  }

  /** The lists of `names` that do not exist (for a rule naming them). */
  async function missing(names: readonly string[], tx: Sql = db): Promise<string[]> {
    if (names.length === 0) return [];
    const found = await tx.query<{ name: string }>(sql`SELECT name FROM named_list WHERE name = ANY(${[...new Set(names)]}::text[])`);
    const have = new Set(found.map((f) => f.name));
    return names.filter((n) => !have.has(n));
  }

  return { create, list, get, entries, change, remove, missing };
}

export type ListService = ReturnType<typeof createListService>;
