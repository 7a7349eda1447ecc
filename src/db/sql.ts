// A tagged template for raw SQL on the driver (not through Prisma): `sql\`... ${value}::jsonb\``
// becomes positional parameters. Used on the ingestion hot path, where Prisma's raw-query layer
// cost about as much again as the database's own time per batch (measured; see README "Performance").

export type SqlQuery = { text: string; values: unknown[] };

/** SQL text spliced in as it is: only for fragments the code itself builds, never for input. */
export class RawSql {
  constructor(readonly text: string) {}
}

export const raw = (text: string) => new RawSql(text);

export function sql(strings: TemplateStringsArray, ...values: unknown[]): SqlQuery {
  let text = strings[0]!;
  const params: unknown[] = [];
  values.forEach((v, i) => {
    if (v instanceof RawSql) text += v.text;
    else {
      params.push(v);
      text += `$${params.length}`;
    }
    text += strings[i + 1];
  });
  return { text, values: params };
}
