// What the evaluation queue hands a worker: a batch of claimed events, each with the keys the
// cadence groups by. Its own file so the queue and the cadence (account-minutes.ts) share it.
import type { StoredEvent } from "../events/stored-event";

export type ClaimedEvent = { pk: bigint; accountId: string; occurredAtMs: number; receivedAtMs: number; event: StoredEvent };
/** `partitions`: those of the claimed tasks (partitions.ts). */
export type ClaimedBatch = { token: string; eventPks: bigint[]; events: ClaimedEvent[]; partitions: number[] };
