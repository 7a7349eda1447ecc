// How a window [from, to] is read from the rollups: raw events for the partial minute at its start,
// minute buckets up to the nearest whole hours, hour buckets in between. The partial minute at its
// end is read as that minute's rollup minus the raw events after `to` in it (`future`): evaluation
// asks as of an account's newest event, where that remainder is nearly always empty, while the
// minute itself may hold thousands of a busy account's events. Every range is bounded (at most 2
// partial minutes, 119 minute rows and 2,160 hour rows for a 90-day window).

const minuteMs = 60_000;
const hourMs = 3_600_000;

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
  minutesHead: Range;
  minutesTail: Range;
  hours: Range;
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
    return { rawHead: empty(f), rawTail: range(f, t + 1), future: empty(t), minutesHead: empty(f), minutesTail: empty(f), hours: empty(f) };
  }
  // The minute that holds `to` is read whole; what lies after `to` in it is subtracted.
  const end = m2 + minuteMs;
  const future = range(t + 1, end);
  const h1 = ceilTo(m1, hourMs);
  const h2 = floorTo(m2, hourMs);
  if (h1 >= h2) {
    return { rawHead: range(f, m1), rawTail: empty(t), future, minutesHead: range(m1, end), minutesTail: empty(end), hours: empty(m2) };
  }
  return { rawHead: range(f, m1), rawTail: empty(t), future, minutesHead: range(m1, h1), minutesTail: range(h2, end), hours: range(h1, h2) };
}

