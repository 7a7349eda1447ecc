// A fact's `path` ($.a.b[0], the only form the schema accepts) read through own properties only: no rule reaches a prototype.

const segments = /\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]/g;

/** The path's reader, built once: evaluating a rule then costs no parsing. */
export function compileSimplePath(path: string): (value: object) => unknown {
  const keys = [...path.slice(1).matchAll(segments)].map((m) => m[1] ?? Number(m[2]));
  return (value) => {
    let current: unknown = value;
    for (const key of keys) {
      if (current === null || typeof current !== "object" || !Object.hasOwn(current, key)) return undefined;
      current = (current as Record<string | number, unknown>)[key];
    }
    return current;
  };
}

export function simplePathResolver(value: object, path: string): unknown {
  return compileSimplePath(path)(value);
}
