// Cursor pagination shared by every list: ?limit=1..500 (default 50) and an opaque ?cursor=.
import { z } from "zod";
import { AppError } from "./errors";

export const paginationQuery = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(512).optional(),
};

export type Page<T> = { items: T[]; nextCursor: string | null };

export function encodeCursor(parts: (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts), "utf8").toString("base64url");
}

/** Decodes a cursor made by encodeCursor with the given shape, or answers 400 naming `cursor`. */
export function decodeCursor<T extends z.ZodType>(cursor: string, shape: T): z.infer<T> {
  try {
    return shape.parse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
  } catch {
    throw new AppError("validation_failed", "the cursor is not one this list gave out", [{ path: "query.cursor", message: "invalid cursor" }]);
  }
}
