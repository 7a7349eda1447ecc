// The named lists an evaluation process holds: each list its rules name, as a Set, so that a
// membership check is one hash lookup (src/engine/named-lists.ts). The rule registry syncs it when
// its fingerprint (which carries every list's version) changes: a list is read again only when its
// version moved, in pages of `page` values, and kept only if the version did not move meanwhile.
import type { Sql } from "../../db/database";
import { sql } from "../../db/sql";
import type { ListLookup } from "../../engine/named-lists";
import type { Logger } from "../../shared/logger";

const page = 100_000;

export type ListCatalog = ListLookup & {
  /** Holds exactly these lists, at their current versions; false when one could not be read (it is not held: try again). */
  sync(names: readonly string[]): Promise<boolean>;
  /** name -> version held. */
  versions(): Record<string, number>;
};

export function createListCatalog(db: Sql, logger?: Logger): ListCatalog {
  const held = new Map<string, { version: number; values: Set<string> }>();

  async function read(name: string, version: number): Promise<Set<string> | undefined> {
    const values = new Set<string>();
    let after: string | null = null;
    for (;;) {
      const rows: { value: string }[] = await db.query<{ value: string }>(sql`
        SELECT value FROM named_list_entry WHERE list_name = ${name} AND (${after}::text IS NULL OR value > ${after}) ORDER BY value LIMIT ${page}`);
      for (const r of rows) values.add(r.value);
      if (rows.length < page) break;
      after = rows[rows.length - 1]!.value;
    }
    const [now] = await db.query<{ version: number }>(sql`SELECT version FROM named_list WHERE name = ${name}`);
    return now?.version === version ? values : undefined;
  }

  return {
    has: (list, value) => held.get(list)?.values.has(value),
    versions: () => Object.fromEntries([...held].map(([k, v]) => [k, v.version])),
    async sync(names) {
      const wanted = new Set(names);
      for (const name of held.keys()) if (!wanted.has(name)) held.delete(name);
      if (wanted.size === 0) return true;
      let complete = true;
      const rows = await db.query<{ name: string; version: number }>(sql`SELECT name, version FROM named_list WHERE name = ANY(${[...wanted]}::text[])`);
      const current = new Map(rows.map((r) => [r.name, r.version]));
      for (const name of wanted) {
        const version = current.get(name);
        if (version === undefined) {
          // Not created yet (a rule file may name one before it is imported), or deleted by hand: not
          // held, and a condition on it holds neither way (inList nor notInList) until it exists.
          logger?.warn({ list: name }, "a rule names a list that does not exist; its conditions hold neither way until it is created");
          held.delete(name);
          continue;
        }
        if (held.get(name)?.version === version) continue;
        // Changed while it was read: read it again at its new version.
        let at: number | undefined = version;
        for (let attempt = 0; attempt < 5 && at !== undefined; attempt++) {
          const values = await read(name, at);
          if (values) {
            held.set(name, { version: at, values });
            logger?.info({ list: name, version: at, size: values.size }, "named list loaded");
            break;
          }
          logger?.warn({ list: name }, "named list changed while it was read; reading it again");
          [{ version: at } = { version: undefined }] = await db.query<{ version: number }>(sql`SELECT version FROM named_list WHERE name = ${name}`);
        }
        if (held.get(name)?.version !== at) {
          // Changed faster than it could be read: not held (its conditions hold neither way) until the next sync.
          held.delete(name);
          complete = false;
        }
      }
      return complete;
    },
  };
}
