// A usage event as stored: the one mapping from a usage_event row to the event the API lists and
// to the `event` fact the engine judges. Claims, minute states, backtests and GET /v1/events all
// select storedEventColumns and map the row with storedEventOf, so a field added to the event is
// added here once (test/evaluation-failures.e2e.test.ts fails on a column left out).
import type { EventFact } from "../../engine/evaluation";
import type { StoredEvent } from "./event-views";

/** The event as the gateway posted it, with the time ClauseGuard stored it (its schema: event-views.ts). */
export type { StoredEvent };

/**
 * The columns of a usage_event row (alias `e`) that make a StoredEvent. Plain columns, mapped in
 * Node: measured on 200,000 events read through a cursor, building the JSON in PostgreSQL instead
 * (jsonb_build_object) took 1.7 times as long.
 */
export const storedEventColumns = `e.event_id, e.account_id, e.occurred_at, e.model, e.input_tokens, e.output_tokens, e.org_id, e.api_key_id,
  e.endpoint, e.end_user_id, e.ip, e.ip_type, e.country, e.asn, e.user_agent, e.payment_fingerprint, e.prompt_template_hash,
  e.signals, e.attributes, e.received_at`;

export type StoredEventRow = {
  event_id: string;
  account_id: string;
  occurred_at: Date;
  model: string;
  input_tokens: number;
  output_tokens: number;
  org_id: string | null;
  api_key_id: string | null;
  endpoint: string | null;
  end_user_id: string | null;
  ip: string | null;
  ip_type: string | null;
  country: string | null;
  /** bigint: the driver gives a string. */
  asn: string | number | null;
  user_agent: string | null;
  payment_fingerprint: string | null;
  prompt_template_hash: string | null;
  signals: Record<string, number | boolean> | null;
  attributes: Record<string, unknown> | null;
  received_at: Date;
};

/** The row as the event the gateway posted (absent fields left out, as it left them out) and when it was stored. */
export function storedEventOf(r: StoredEventRow): StoredEvent {
  const e: StoredEvent = {
    eventId: r.event_id,
    occurredAt: r.occurred_at.toISOString(),
    accountId: r.account_id,
    model: r.model,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    receivedAt: r.received_at.toISOString(),
  };
  if (r.org_id !== null) e.orgId = r.org_id;
  if (r.api_key_id !== null) e.apiKeyId = r.api_key_id;
  if (r.endpoint !== null) e.endpoint = r.endpoint;
  if (r.end_user_id !== null) e.endUserId = r.end_user_id;
  if (r.ip !== null) e.ip = r.ip;
  if (r.ip_type !== null) e.ipType = r.ip_type as StoredEvent["ipType"];
  if (r.country !== null) e.country = r.country;
  if (r.asn !== null) e.asn = Number(r.asn);
  if (r.user_agent !== null) e.userAgent = r.user_agent;
  if (r.payment_fingerprint !== null) e.paymentFingerprint = r.payment_fingerprint;
  if (r.prompt_template_hash !== null) e.promptTemplateHash = r.prompt_template_hash;
  if (r.signals !== null) e.signals = r.signals;
  if (r.attributes !== null) e.attributes = r.attributes;
  return e;
}

/**
 * The `event` fact: the event as posted, without ClauseGuard's own receivedAt, so that a rule
 * judges the same document live and in a backtest whenever the event arrived. A field sent as
 * null is absent, also inside `attributes` (as PostgreSQL's jsonb_strip_nulls, which live
 * evaluation applied before this mapping was shared): `$.attributes.plan` of `{ "plan": null }`
 * reads as absent, live and in a backtest alike.
 */
export function eventFact(stored: StoredEvent): EventFact {
  const { receivedAt: _received, ...posted } = stored;
  return posted.attributes ? { ...posted, attributes: withoutNullFields(posted.attributes) as Record<string, unknown> } : posted;
}

/** The value without object fields that are null, at every depth (nulls inside arrays stay, as jsonb_strip_nulls leaves them). */
function withoutNullFields(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNullFields);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = withoutNullFields(x);
  return out;
}
