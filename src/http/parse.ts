// Parses request parts with zod once, turning every issue into a field error with its path.
import { z } from "zod";
import { issuesToFieldErrors, validationFailed } from "../errors";

/** Parses `value` or throws a 400 naming each offending field under `where` (e.g. "query"). */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, where?: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw validationFailed(issuesToFieldErrors(r.error.issues, where ? [where] : []));
  return r.data;
}

/** PostgreSQL text holds neither NUL nor an unpaired surrogate: such input is a 400 naming the field, never a 500. */
export const storable = (s: string) => !s.includes("\u0000") && !/\p{Cs}/u.test(s);
export const unstorableMessage = "must not contain NUL characters or unpaired surrogates";

/** A non-empty string of at most `max` characters that the database can hold (ids, names, filters, notes). */
export const storableText = (max: number) => z.string().min(1).max(max).refine(storable, unstorableMessage);

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
