// A usage event as stored: the one mapping from a usage_event row to the event the API lists and
// to the `event` fact the engine judges. Live evaluation, backtests and GET /v1/events all read
// rows through storedEventJson, so a field added to the event is added here once.
import type { EventFact } from "../../engine/evaluation";
import type { UsageEventInput } from "./event-schemas";

/** The event as the gateway posted it, with the time ClauseGuard stored it. */
export type StoredEvent = UsageEventInput & { receivedAt: string };

const isoMs = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * A usage_event row (alias e) as the JSON of a StoredEvent, built by PostgreSQL: a batch of events
 * costs no row mapping in Node. Absent fields are left out, as the gateway left them out.
 */
export const storedEventJson = `jsonb_strip_nulls(jsonb_build_object(
    'eventId', e.event_id, 'occurredAt', ${isoMs("e.occurred_at")}, 'accountId', e.account_id, 'model', e.model,
    'inputTokens', e.input_tokens, 'outputTokens', e.output_tokens, 'orgId', e.org_id, 'apiKeyId', e.api_key_id,
    'endpoint', e.endpoint, 'endUserId', e.end_user_id, 'ip', e.ip, 'ipType', e.ip_type, 'country', e.country,
    'asn', e.asn, 'userAgent', e.user_agent, 'paymentFingerprint', e.payment_fingerprint,
    'promptTemplateHash', e.prompt_template_hash, 'signals', e.signals, 'attributes', e.attributes,
    'receivedAt', ${isoMs("e.received_at")}))`;

/**
 * The `event` fact: the event as posted, without ClauseGuard's own receivedAt, so that a rule
 * judges the same document live and in a backtest whenever the event arrived.
 */
export function eventFact(stored: StoredEvent): EventFact {
  const { receivedAt: _received, ...posted } = stored;
  return posted;
}
