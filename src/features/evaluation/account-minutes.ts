// Which account-minutes a claimed batch judges account-scope rules for, and as of which event.
// Account-scope rules are judged once per account and clock minute, as of that minute's last
// stored event, in live evaluation as in backtests: so what is caught does not depend on how the
// queue was cut into batches. A batch judges a minute only if no other queued event of that
// minute has a higher key (that event's batch will judge it, seeing this one's events too).
import type { ClaimedEvent } from "./evaluation-queue";

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

/** Groups a batch's events (any order) by account and clock minute. */
export function accountMinutes(events: ClaimedEvent[]): MinuteGroup[] {
  const groups = new Map<string, MinuteGroup>();
  for (const e of events) {
    const minute = minuteOf(e.occurredAtMs);
    const key = `${e.accountId}\u0000${minute}`;
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { accountId: e.accountId, minuteMs: minute, last: e, maxPk: e.pk });
      continue;
    }
    if (e.occurredAtMs > g.last.occurredAtMs || (e.occurredAtMs === g.last.occurredAtMs && e.pk > g.last.pk)) g.last = e;
    if (e.pk > g.maxPk) g.maxPk = e.pk;
  }
  return [...groups.values()];
}

/**
 * The batch cadence: one judgement per account of the batch, as of its newest event there (what is
 * judged then depends on how the queue was cut into batches).
 */
export function newestPerAccount(events: ClaimedEvent[]): { group: MinuteGroup; asOf: ClaimedEvent }[] {
  const newest = new Map<string, MinuteGroup>();
  for (const e of events) {
    const g = newest.get(e.accountId);
    if (!g) newest.set(e.accountId, { accountId: e.accountId, minuteMs: minuteOf(e.occurredAtMs), last: e, maxPk: e.pk });
    else {
      if (e.occurredAtMs > g.last.occurredAtMs || (e.occurredAtMs === g.last.occurredAtMs && e.pk > g.last.pk)) Object.assign(g, { last: e, minuteMs: minuteOf(e.occurredAtMs) });
      if (e.pk > g.maxPk) g.maxPk = e.pk;
    }
  }
  return [...newest.values()].map((group) => ({ group, asOf: group.last }));
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
