// Ingestion and reading of usage events: per-item validation, in-batch and stored-duplicate
// accounting, one transaction per batch that commits before the caller answers.
import { issuesToFieldErrors, validationFailed } from "../../shared/errors";
import { decodeCursor, encodeCursor } from "../../shared/pagination";
import { z } from "zod";
import { ParseFailure } from "../../shared/parse";
import { type Database, retryAborted } from "../../db/database";
import { raw, sql } from "../../db/sql";
import { type StoredEventRow, storedEventColumns, storedEventOf } from "./stored-event";
import { insertEvents } from "./event-repository";
import { type LinkKeyCache, createLinkKeyCache } from "./link-key-cache";
import type { LinkPolicy } from "./link-policy";
import { type UsageEventInput, maxBatchItems, queryMoment, usageEventSchema } from "./event-schemas";
import type { EventPage, IngestResult, RejectedItem } from "./event-views";

export type { IngestResult, RejectedItem, StoredEvent } from "./event-views";

export { ParseFailure } from "../../shared/parse";

/**
 * `onStored` runs after a batch with new events commits (the in-process worker uses it to wake up);
 * `linkPolicy` decides which link keys events make (link-policy.ts).
 */
export function createEventService(db: Database, opts: { onStored?: () => void; linkKeys?: LinkKeyCache; linkPolicy?: LinkPolicy } = {}) {
  const onStored = opts.onStored ?? (() => {});
  const linkKeys = opts.linkKeys ?? createLinkKeyCache();
  async function ingest(items: unknown[]): Promise<IngestResult> {
    if (items.length === 0) throw validationFailed([{ path: "", message: "the batch is empty: send 1 to 5000 events" }]);
    if (items.length > maxBatchItems) {
      throw validationFailed([{ path: "", message: `the batch has ${items.length} events; at most ${maxBatchItems} are accepted per request` }]);
    }
    const rejected: RejectedItem[] = [];
    const valid: UsageEventInput[] = [];
    const seen = new Set<string>();
    let duplicates = 0;
    items.forEach((item, index) => {
      if (item instanceof ParseFailure) {
        rejected.push({ index, errors: [{ path: `[${index}]`, message: item.message }] });
        return;
      }
      const r = usageEventSchema.safeParse(item);
      if (!r.success) {
        const eventId = (item as { eventId?: unknown } | null)?.eventId;
        rejected.push({
          index,
          ...(typeof eventId === "string" && eventId.length <= 128 ? { eventId } : {}),
          errors: issuesToFieldErrors(r.error.issues, [index]),
        });
        return;
      }
      if (seen.has(r.data.eventId)) {
        duplicates++;
        return;
      }
      seen.add(r.data.eventId);
      valid.push(r.data);
    });
    let accepted = 0;
    if (valid.length) {
      // A deadlock victim stored nothing: the whole batch is tried again (eventId keeps it idempotent).
      const stored = await retryAborted(() => db.transaction((tx) => insertEvents(tx, valid, linkKeys, opts.linkPolicy)));
      // Only after the commit: a rolled-back batch must not mark its link keys as written.
      linkKeys.remember(stored.linkKeysWritten);
      accepted = stored.inserted;
    }
    if (accepted > 0) onStored();
    return { accepted, duplicates: duplicates + (valid.length - accepted), rejected };
  }

  const cursorShape = z.tuple([queryMoment, z.string().regex(/^[0-9]{1,18}$/)]);

  async function listEvents(q: { accountId?: string; eventIds?: string[]; from?: Date; to?: Date; limit: number; cursor?: string }): Promise<EventPage> {
    const after = q.cursor ? decodeCursor(q.cursor, cursorShape) : undefined;
    const where = [
      ...(q.accountId ? [sql`e.account_id = ${q.accountId}`] : []),
      ...(q.eventIds ? [sql`e.event_id = ANY(${q.eventIds}::text[])`] : []),
      ...(q.from ? [sql`e.occurred_at >= ${q.from.toISOString()}::timestamptz`] : []),
      ...(q.to ? [sql`e.occurred_at < ${q.to.toISOString()}::timestamptz`] : []),
      ...(after ? [sql`(e.occurred_at, e.id) < (${after[0]}::timestamptz, ${after[1]}::bigint)`] : []),
    ];
    const rows = await db.query<StoredEventRow & { pk: string }>(sql`
      SELECT e.id::text AS pk, ${raw(storedEventColumns)}
      FROM usage_event e
      WHERE ${where.length ? where.reduce((a, b) => sql`${a} AND ${b}`) : raw("true")}
      ORDER BY e.occurred_at DESC, e.id DESC
      LIMIT ${q.limit + 1}::int`);
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(storedEventOf),
      nextCursor: rows.length > q.limit && last ? encodeCursor([last.occurred_at.toISOString(), last.pk]) : null,
    };
  }

  return { ingest, listEvents };
}

export type EventService = ReturnType<typeof createEventService>;
