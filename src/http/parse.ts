// Parses request parts with zod once, turning every issue into a field error with its path.
import type { z } from "zod";
import { issuesToFieldErrors, validationFailed } from "../errors";

/** Parses `value` or throws a 400 naming each offending field under `where` (e.g. "query"). */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, where?: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw validationFailed(issuesToFieldErrors(r.error.issues, where ? [where] : []));
  return r.data;
}
