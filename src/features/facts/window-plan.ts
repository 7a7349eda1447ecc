// How a window [from, to] is read from the rollups: raw events for the partial minute at each end,
// minute buckets up to the nearest whole hours, hour buckets in between. Every range is bounded
// (at most 2 partial minutes, 118 minute rows and 2,160 hour rows for a 90-day window).

const minuteMs = 60_000;
const hourMs = 3_600_000;

/** A half-open range [start, end); empty when start >= end. */
export type Range = { start: Date; end: Date };

export type WindowPlan = {
  /** Raw events in [start, end). */
  rawHead: Range;
  /** Raw events in [start, end] (the window's end is inclusive). */
  rawTail: Range;
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
    return { rawHead: empty(f), rawTail: range(f, t), minutesHead: empty(f), minutesTail: empty(f), hours: empty(f) };
  }
  const h1 = ceilTo(m1, hourMs);
  const h2 = floorTo(m2, hourMs);
  if (h1 >= h2) {
    return { rawHead: range(f, m1), rawTail: range(m2, t), minutesHead: range(m1, m2), minutesTail: empty(m2), hours: empty(m2) };
  }
  return { rawHead: range(f, m1), rawTail: range(m2, t), minutesHead: range(m1, h1), minutesTail: range(h2, m2), hours: range(h1, h2) };
}

