// Parses request parts with zod once, turning every issue into a field error with its path.
import { z } from "zod";
import { storable, unstorableMessage } from "../engine/json-input";
import { issuesToFieldErrors, validationFailed } from "./errors";

/** Parses `value` or throws a 400 naming each offending field under `where` (e.g. "query"). */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, where?: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw validationFailed(issuesToFieldErrors(r.error.issues, where ? [where] : []));
  return r.data;
}

/** A non-empty string of at most `max` characters that the database can hold (ids, names, filters, notes). */
export const storableText = (max: number) => z.string().min(1).max(max).refine(storable, unstorableMessage);

/** An item of a batch that could not even be parsed (a broken NDJSON line): its index's fault. */
export class ParseFailure {
  constructor(readonly message: string) {}
}
