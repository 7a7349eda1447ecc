// What the API answers about usage events, as zod schemas: the ingest result and a stored event
// (GET /v1/events). The request side is event-schemas.ts. The event service's return types are
// these schemas' types, the OpenAPI document publishes them, test/openapi.e2e.test.ts holds real
// answers to them, and the console imports their types.
import { z } from "zod";
import { pageOf } from "../../shared/page-view";
import { ipTypes } from "./event-model";

const fieldError = z.strictObject({ path: z.string(), message: z.string() });

/** An item of a batch that was not stored, with every fault (paths like `[3].outputTokens`). */
export const rejectedItemSchema = z.strictObject({
  /** The item's position in the batch (for NDJSON: among the non-blank lines). */
  index: z.number().int(),
  eventId: z.string().optional(),
  errors: z.array(fieldError),
});
export type RejectedItem = z.infer<typeof rejectedItemSchema>;

/** POST /v1/events (202): stored, already stored (or twice in the batch), and refused items. */
export const ingestResultSchema = z.strictObject({
  accepted: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.array(rejectedItemSchema),
});
export type IngestResult = z.infer<typeof ingestResultSchema>;

const text = z.string();

/** A stored event: the fields the gateway sent (those it sent as null or left out are absent), and when it arrived. */
export const storedEventSchema = z.strictObject({
  eventId: text,
  occurredAt: z.iso.datetime(),
  accountId: text,
  model: text,
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  orgId: text.optional(),
  apiKeyId: text.optional(),
  endpoint: text.optional(),
  endUserId: text.optional(),
  ip: z.union([z.ipv4(), z.ipv6()]).optional(),
  ipType: z.enum(ipTypes).optional(),
  country: text.optional(),
  asn: z.number().int().optional(),
  userAgent: text.optional(),
  paymentFingerprint: text.optional(),
  promptTemplateHash: text.optional(),
  signals: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
  attributes: z.record(z.string(), z.unknown()).optional(),
  receivedAt: z.iso.datetime(),
});
export type StoredEvent = z.infer<typeof storedEventSchema>;

export const eventPageSchema = pageOf(storedEventSchema);
export type EventPage = z.infer<typeof eventPageSchema>;
