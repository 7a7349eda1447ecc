// The schema of a page of a cursor-paginated list, `{ items, nextCursor }` (pagination.ts makes the
// cursors): every list's response schema is pageOf(its item). Apart from pagination.ts (cursors,
// Buffer, AppError), so the views the console takes its types from pull no server code into its type check.
import { z } from "zod";

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.strictObject({
    items: z.array(item),
    /** Pass as ?cursor= for the next page; null on the last page. */
    nextCursor: z.string().nullable(),
  });
