// A tagged template for raw SQL on the driver (not through Prisma): `sql\`... ${value}::text[]\``
// becomes positional parameters. Used on the ingestion hot path, where Prisma's raw-query layer
// cost about twice the database's own time per batch (measured; see README "Performance").

export type SqlQuery = { text: string; values: unknown[] };

export function sql(strings: TemplateStringsArray, ...values: unknown[]): SqlQuery {
  let text = strings[0]!;
  values.forEach((_, i) => {
    text += `$${i + 1}${strings[i + 1]}`;
  });
  return { text, values };
}
