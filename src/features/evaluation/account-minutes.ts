// Which account-minutes a claimed batch judges account-scope rules for, and as of which event.
// Account-scope rules are judged once per account and clock minute, as of that minute's last
// stored event, in live evaluation as in backtests: so what is caught does not depend on how the
// queue was cut into batches. A batch judges a minute only if no other queued event of that
// minute has a higher key (that event's batch will judge it, seeing this one's events too).
import type { ClaimedEvent } from "./claimed-batch";

const minuteMs = 60_000;

/** minute: once per account-minute (this file); batch: once per account per claimed batch, at its newest event. */
export const evaluationCadences = ["batch", "minute"] as const;
export type EvaluationCadence = (typeof evaluationCadences)[number];

/** The events of one account in one clock minute, within a batch. */
export type MinuteGroup = {
  accountId: string;
  /** Start of the clock minute, ms since the epoch. */
  minuteMs: number;
  /** The batch's last event of the minute by (occurredAt, key): the judgement's event unless a later one is stored. */
  last: ClaimedEvent;
  /** The highest event key of the minute in the batch. */
  maxPk: bigint;
};

export const minuteOf = (occurredAtMs: number) => Math.floor(occurredAtMs / minuteMs) * minuteMs;

/** The batch's events grouped by `keyOf` (all of one account), each group with its last event by (occurredAt, key) and its highest key. */
function groupEvents(events: ClaimedEvent[], keyOf: (e: ClaimedEvent) => string): MinuteGroup[] {
  const groups = new Map<string, { last: ClaimedEvent; maxPk: bigint }>();
  for (const e of events) {
    const g = groups.get(keyOf(e));
    if (!g) {
      groups.set(keyOf(e), { last: e, maxPk: e.pk });
      continue;
    }
    if (e.occurredAtMs > g.last.occurredAtMs || (e.occurredAtMs === g.last.occurredAtMs && e.pk > g.last.pk)) g.last = e;
    if (e.pk > g.maxPk) g.maxPk = e.pk;
  }
  return [...groups.values()].map(({ last, maxPk }) => ({ accountId: last.accountId, minuteMs: minuteOf(last.occurredAtMs), last, maxPk }));
}

/** Groups a batch's events (any order) by account and clock minute. */
export function accountMinutes(events: ClaimedEvent[]): MinuteGroup[] {
  return groupEvents(events, (e) => `${e.accountId}\u0000${minuteOf(e.occurredAtMs)}`);
}

/**
 * The batch cadence: one judgement per account of the batch, as of its newest event there (what is
 * judged then depends on how the queue was cut into batches).
 */
export function newestPerAccount(events: ClaimedEvent[]): { group: MinuteGroup; asOf: ClaimedEvent }[] {
  return groupEvents(events, (e) => e.accountId).map((group) => ({ group, asOf: group.last }));
}

/** What the queue says of a minute group: whether a later-keyed event of it is still queued, and the minute's last stored event. */
export type MinuteState = { laterQueued: boolean; lastStored: ClaimedEvent | undefined };

/**
 * The minutes this batch judges, each as of its minute's last stored event (which may lie outside
 * the batch: stored earlier, or with a lower key, and evaluated already).
 */
export function minutesToJudge(groups: MinuteGroup[], states: MinuteState[]): { group: MinuteGroup; asOf: ClaimedEvent }[] {
  const out: { group: MinuteGroup; asOf: ClaimedEvent }[] = [];
  groups.forEach((group, i) => {
    const state = states[i];
    if (!state || state.laterQueued) return;
    out.push({ group, asOf: state.lastStored ?? group.last });
  });
  return out;
}
