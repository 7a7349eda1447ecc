// What a JSON document from outside (a rule, an event, a request body) may hold, and the one form of
// a field's path in every error. Pure: the engine checks rule documents with it, the API bodies.

export type FieldError = { path: string; message: string };

/** Formats a path as `a.b[2].c`, the form every error in ClauseGuard uses. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else out += out ? `.${String(s)}` : String(s);
  }
  return out;
}


/** PostgreSQL text holds neither NUL nor an unpaired surrogate: such input is a 400 naming the field, never a 500. */
export const storable = (s: string) => !s.includes("\u0000") && !/\p{Cs}/u.test(s);
export const unstorableMessage = "must not contain NUL characters or unpaired surrogates";

/** Object keys a rule engine or a log could trip over: refused wherever outside input is walked. */
export const forbiddenKeys = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Every forbidden key, and every string or key the database cannot store, in a JSON value, with
 * its path, in document order. Walks with its own stack: nesting depth cannot overflow it.
 */
export function unusableParts(value: unknown): { path: (string | number)[]; message: string }[] {
  const found: { path: (string | number)[]; message: string }[] = [];
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value: v, path } = item;
    if (typeof v === "string") {
      if (!storable(v)) found.push({ path, message: unstorableMessage });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...path, i] });
    } else if (v !== null && typeof v === "object") {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        if (forbiddenKeys.has(k)) found.push({ path: [...path, k], message: `the key '${k}' is not allowed` });
        else if (!storable(k)) found.push({ path: [...path, k], message: `the key ${unstorableMessage}` });
        else stack.push({ value: (v as Record<string, unknown>)[k], path: [...path, k] });
      }
    }
  }
  return found;
}

/** Whether a JSON value nests deeper than `limit` levels; walks with its own stack, so depth cannot overflow it. */
export function deeperThan(value: unknown, limit: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    if (item.value === null || typeof item.value !== "object") continue;
    if (item.depth >= limit) return true;
    for (const v of Object.values(item.value)) stack.push({ value: v, depth: item.depth + 1 });
  }
  return false;
}


/** An object that is not an array (nor null). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
