// A tagged template for raw SQL on the driver (not through Prisma): `sql\`... ${value}::jsonb\``
// becomes positional parameters; a nested sql`` fragment is spliced in with its own parameters.
// Used on the hot paths (ingestion, facts), where Prisma's raw-query layer cost about as much
// again as the database's own time (measured; see docs/performance.md).

/** `name` makes PostgreSQL prepare the statement once per connection and reuse its plan. */
export type SqlQuery = { text: string; values: unknown[]; name?: string };

/**
 * Names a query whose text never changes, so PostgreSQL plans it once per connection: measured on
 * the fact reads, planning took 2.3 ms of a 3 ms query. (PGlite ignores the name.)
 */
export function prepared(name: string, query: SqlQuery): SqlQuery {
  return { ...query, name };
}

/** SQL text spliced in as it is: only for fragments the code itself builds, never for input. */
export class RawSql {
  constructor(readonly text: string) {}
}

export const raw = (text: string) => new RawSql(text);

const isFragment = (v: unknown): v is SqlQuery =>
  v !== null && typeof v === "object" && !Array.isArray(v) && typeof (v as SqlQuery).text === "string" && Array.isArray((v as SqlQuery).values);

export function sql(strings: TemplateStringsArray, ...values: unknown[]): SqlQuery {
  let text = strings[0]!;
  const params: unknown[] = [];
  values.forEach((v, i) => {
    if (v instanceof RawSql) text += v.text;
    else if (isFragment(v)) {
      const offset = params.length;
      params.push(...v.values);
      text += v.text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
    } else {
      params.push(v);
      text += `$${params.length}`;
    }
    text += strings[i + 1];
  });
  return { text, values: params };
}
