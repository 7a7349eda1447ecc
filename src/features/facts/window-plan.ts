// How a window [from, to] is read from the rollups, so that its cost does not grow with its length:
// raw events for the partial minute at its start, minute buckets up to the nearest whole hours,
// hour buckets up to the nearest whole days (UTC), and day buckets in between; then the same
// tiers in reverse towards its end. The partial minute at its end is read as that minute's rollup
// minus the raw events after `to` in it (`future`): evaluation asks as of an account's newest
// event, where that remainder is nearly always empty, while the minute itself may hold thousands
// of a busy account's events. For any window of up to 90 days the plan reads raw events of at most
// two partial minutes, at most 59 whole minute buckets at each end (plus the end's partial
// minute), at most 23 hour buckets at each end, and at most 89 day buckets (90 when a 90-day window
// starts exactly at midnight UTC): see window-plan.test.ts.

const minuteMs = 60_000;
const hourMs = 3_600_000;
const dayMs = 86_400_000;

/**
 * A half-open range [start, end); empty when start >= end. Event times have millisecond precision
 * (timestamptz(3)), so the inclusive end `to` of a window is the exclusive end `to` + 1 ms.
 */
export type Range = { start: Date; end: Date };

export type WindowPlan = {
  /** Raw events in [start, end). */
  rawHead: Range;
  /** Raw events in [start, end): the whole window when it lies inside one minute (its end is `to` + 1 ms). */
  rawTail: Range;
  /** Raw events in [start, end): in the last minute bucket read, after the window's end; subtracted. */
  future: Range;
  /** Minute buckets starting in [start, end), before the first whole hour (or every minute bucket, when no whole hour fits). */
  minutesHead: Range;
  /** Minute buckets after the last whole hour, the end's partial minute last (its bucket starts at `future.end` - 1 minute). */
  minutesTail: Range;
  /** Hour buckets before the first whole day (or every hour bucket, when no whole day fits). */
  hoursHead: Range;
  /** Hour buckets after the last whole day. */
  hoursTail: Range;
  /** Day buckets (UTC days). */
  days: Range;
};

const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit;
const ceilTo = (ms: number, unit: number) => Math.ceil(ms / unit) * unit;
const range = (a: number, b: number): Range => ({ start: new Date(a), end: new Date(Math.max(a, b)) });
const empty = (at: number): Range => range(at, at);

export function planWindow(from: Date, to: Date): WindowPlan {
  const f = from.getTime();
  const t = to.getTime();
  const m1 = ceilTo(f, minuteMs);
  const m2 = floorTo(t, minuteMs);
  if (m1 > m2) {
    // The whole window lies inside one clock minute.
    return { rawHead: empty(f), rawTail: range(f, t + 1), future: empty(t), minutesHead: empty(f), minutesTail: empty(f), hoursHead: empty(f), hoursTail: empty(f), days: empty(f) };
  }
  // The minute that holds `to` is read whole; what lies after `to` in it is subtracted.
  const end = m2 + minuteMs;
  const edges = { rawHead: range(f, m1), rawTail: empty(t), future: range(t + 1, end) };
  const h1 = ceilTo(m1, hourMs);
  const h2 = floorTo(m2, hourMs);
  if (h1 >= h2) {
    return { ...edges, minutesHead: range(m1, end), minutesTail: empty(end), hoursHead: empty(m2), hoursTail: empty(m2), days: empty(m2) };
  }
  const minutes = { minutesHead: range(m1, h1), minutesTail: range(h2, end) };
  const d1 = ceilTo(h1, dayMs);
  const d2 = floorTo(h2, dayMs);
  if (d1 >= d2) {
    return { ...edges, ...minutes, hoursHead: range(h1, h2), hoursTail: empty(h2), days: empty(h2) };
  }
  return { ...edges, ...minutes, hoursHead: range(h1, d1), hoursTail: range(d2, h2), days: range(d1, d2) };
}
