// The window plan, alone: its pieces tile [from, to] exactly, with no overlap, and each tier reads a
// bounded number of buckets whatever the window's length (up to 90 days), for random windows at
// millisecond precision (fast-check) and for hand-picked edges.
import fc from "fast-check";
import { type Range, type WindowPlan, planWindow } from "./window-plan";

const minute = 60_000;
const hour = 60 * minute;
const day = 24 * hour;
const base = Date.parse("2026-01-01T00:00:00Z");

const ms = (r: Range) => ({ start: r.start.getTime(), end: r.end.getTime() });
const len = (r: Range) => r.end.getTime() - r.start.getTime();
const buckets = (r: Range, unit: number) => len(r) / unit;

/** The pieces a read adds up (every range but `future`, which it subtracts), with their bucket unit (0: raw events). */
function pieces(p: WindowPlan) {
  return [
    { name: "rawHead", unit: 0, ...ms(p.rawHead) },
    { name: "rawTail", unit: 0, ...ms(p.rawTail) },
    { name: "minutesHead", unit: minute, ...ms(p.minutesHead) },
    { name: "minutesTail", unit: minute, ...ms(p.minutesTail) },
    { name: "hoursHead", unit: hour, ...ms(p.hoursHead) },
    { name: "hoursTail", unit: hour, ...ms(p.hoursTail) },
    { name: "days", unit: day, ...ms(p.days) },
  ];
}

/** Checks everything a reader relies on; throws with the window in the message. */
function checkPlan(from: number, to: number) {
  const p = planWindow(new Date(from), new Date(to));
  const where = `[${new Date(from).toISOString()}, ${new Date(to).toISOString()}]`;
  const fail = (why: string) => {
    throw new Error(`${where}: ${why} in ${JSON.stringify(p)}`);
  };
  const read = pieces(p).filter((x) => x.end > x.start);
  for (const x of pieces(p)) if (x.end < x.start) fail(`${x.name} ends before it starts`);
  // Bucket ranges start and end on their unit's boundaries (UTC), so a bucket is read whole or not at all.
  for (const x of read) if (x.unit && (x.start % x.unit !== 0 || x.end % x.unit !== 0)) fail(`${x.name} is not aligned`);
  // Tiling: sorted by start, each piece begins where the one before ends, from `from` to the end of
  // the last bucket read; what lies after `to` in it is exactly `future`, inside that last minute.
  read.sort((a, b) => a.start - b.start);
  if (read[0]!.start !== from) fail("the first piece does not start at from");
  for (let i = 1; i < read.length; i++) if (read[i]!.start !== read[i - 1]!.end) fail(`${read[i - 1]!.name} and ${read[i]!.name} overlap or leave a gap`);
  const last = read[read.length - 1]!;
  const f = ms(p.future);
  if (f.end > f.start) {
    if (f.start !== to + 1 || f.end !== last.end || last.unit !== minute || f.end - f.start >= minute) fail("future is not the rest of the last minute after to");
  } else if (last.end !== to + 1) fail("the last piece does not end at to + 1 ms");
  // Bounds: raw events of at most two partial minutes; at most 59 whole minute buckets at each end
  // and the end's partial minute; at most 23 hour buckets at each end; the days in between.
  if (len(p.rawHead) >= minute || len(p.rawTail) >= minute + 1 || len(p.future) >= minute) fail("a raw range spans a minute");
  if (len(p.rawHead) > 0 && len(p.rawTail) > 0) fail("both raw ranges are read");
  const minutes = buckets(p.minutesHead, minute) + buckets(p.minutesTail, minute);
  if (minutes > 2 * 59 + 1) fail(`${minutes} minute buckets`);
  if (buckets(p.minutesHead, minute) > 59 && len(p.minutesTail) > 0) fail("more than 59 minute buckets before the first whole hour");
  if (buckets(p.minutesTail, minute) > 60) fail("more than 59 whole minute buckets after the last whole hour");
  const hours = buckets(p.hoursHead, hour) + buckets(p.hoursTail, hour);
  if (hours > 2 * 23) fail(`${hours} hour buckets`);
  if (buckets(p.hoursHead, hour) > 23 && len(p.hoursTail) > 0) fail("more than 23 hour buckets before the first whole day");
  if (buckets(p.hoursTail, hour) > 23) fail("more than 23 hour buckets after the last whole day");
  const days = buckets(p.days, day);
  const windowMs = to - from;
  if (days > Math.floor(windowMs / day)) fail(`${days} day buckets for a window of ${windowMs} ms`);
  if (windowMs <= 90 * day && days > 89 && !(from % day === 0 && windowMs === 90 * day)) fail(`${days} day buckets`);
  return p;
}

/** A moment in 2026-2027 at millisecond precision, often on (or 1 ms either side of) a minute, hour or day boundary. */
const moment = fc
  .tuple(
    fc.integer({ min: 0, max: 700 }),
    fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 23 })),
    fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 59 })),
    fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 59_999 })),
    fc.constantFrom(-1, 0, 0, 0, 1),
  )
  .map(([d, h, m, x, nudge]) => base + d * day + h * hour + m * minute + x + nudge);
/** A window's length from 1 minute to 90 days, often a rule's round length (1m, 59m, 61m, 23h, 25h, 7d, 30d, 90d) give or take 1 ms. */
const length = fc.oneof(
  fc.integer({ min: minute, max: 90 * day }),
  fc.tuple(fc.constantFrom(minute, 59 * minute, hour, 61 * minute, 23 * hour, day, 25 * hour, 7 * day, 30 * day, 90 * day), fc.constantFrom(-1, 0, 1)).map(([l, nudge]) => Math.max(minute, Math.min(90 * day, l + nudge))),
);

describe("planWindow", () => {
  it("tiles [from, to] exactly and reads a bounded number of buckets, for random windows of 1 minute to 90 days", () => {
    fc.assert(
      fc.property(moment, length, (to, windowMs) => {
        checkPlan(to - windowMs, to);
      }),
      { numRuns: 20_000 },
    );
  });

  it("tiles windows shorter than a minute too, down to a single millisecond", () => {
    fc.assert(
      fc.property(moment, fc.integer({ min: 0, max: minute }), (to, windowMs) => {
        checkPlan(to - windowMs, to);
      }),
      { numRuns: 5_000 },
    );
  });

  it("reads a 30-day window that starts off the grid as 29 days, 23 hours, 60 minutes and two partial minutes", () => {
    const to = base + 40 * day + 13 * hour + 27 * minute + 12_345;
    const p = checkPlan(to - 30 * day, to);
    expect({
      rawHead: len(p.rawHead),
      minutes: [buckets(p.minutesHead, minute), buckets(p.minutesTail, minute)],
      hours: [buckets(p.hoursHead, hour), buckets(p.hoursTail, hour)],
      days: buckets(p.days, day),
      future: len(p.future),
    }).toEqual({ rawHead: minute - 12_345, minutes: [32, 28], hours: [10, 13], days: 29, future: minute - 12_345 - 1 });
  });

  it("reads the worst case of every tier: a window from 1 ms after midnight to 1 ms before midnight 90 days later", () => {
    const from = base + 1;
    const to = base + 89 * day + day - 1;
    const p = checkPlan(from, to);
    expect([buckets(p.minutesHead, minute), buckets(p.minutesTail, minute), buckets(p.hoursHead, hour), buckets(p.hoursTail, hour), buckets(p.days, day)]).toEqual([59, 60, 23, 23, 88]);
    expect(len(p.rawHead)).toBe(minute - 1);
    expect(len(p.future)).toBe(0);
  });

  it("reads a 90-day window aligned on midnight as 90 days and the partial minute at its end", () => {
    const p = checkPlan(base, base + 90 * day);
    expect(buckets(p.days, day)).toBe(90);
    expect(ms(p.minutesTail)).toEqual({ start: base + 90 * day, end: base + 90 * day + minute });
    expect(len(p.future)).toBe(minute - 1);
    expect([len(p.rawHead), len(p.minutesHead), len(p.hoursHead), len(p.hoursTail)]).toEqual([0, 0, 0, 0]);
  });

  it("reads a window inside one minute from raw events only, and one inside an hour or a day without the tiers above", () => {
    const inMinute = checkPlan(base + 10_000, base + 20_000);
    expect(ms(inMinute.rawTail)).toEqual({ start: base + 10_000, end: base + 20_001 });
    const inHour = checkPlan(base + 5 * minute + 1, base + 50 * minute + 1);
    expect([len(inHour.hoursHead), len(inHour.days), buckets(inHour.minutesHead, minute)]).toEqual([0, 0, 45]);
    const inDay = checkPlan(base + 2 * hour + 1, base + 20 * hour + 1);
    expect([buckets(inDay.hoursHead, hour), len(inDay.hoursTail), len(inDay.days)]).toEqual([17, 0, 0]);
  });
});
