// Which account-minutes a batch judges: grouping by account and clock minute, the minute's last
// event by (time, key), and the hand-off to the batch that holds the minute's highest queued key.
import type { StoredEvent } from "../events/stored-event";
import { accountMinutes, minutesToJudge } from "./account-minutes";
import type { ClaimedEvent } from "./claimed-batch";

const t0 = Date.parse("2026-11-20T10:00:00Z");
const ev = (pk: number, accountId: string, secondsAfter: number): ClaimedEvent => ({
  pk: BigInt(pk),
  accountId,
  occurredAtMs: t0 + secondsAfter * 1000,
  receivedAtMs: t0,
  event: { eventId: `e${pk}` } as unknown as StoredEvent,
});

describe("accountMinutes", () => {
  it("groups by account and clock minute, whatever the order of the batch", () => {
    const groups = accountMinutes([ev(3, "a", 59), ev(1, "a", 0), ev(2, "b", 30), ev(4, "a", 60), ev(5, "a", 10)]);
    expect(groups.map((g) => [g.accountId, (g.minuteMs - t0) / 60_000, g.last.pk, g.maxPk])).toEqual([
      ["a", 0, 3n, 5n],
      ["b", 0, 2n, 2n],
      ["a", 1, 4n, 4n],
    ]);
  });

  it("takes the minute's last event by time, then by key when two share a time", () => {
    const [g] = accountMinutes([ev(9, "a", 20), ev(7, "a", 20), ev(8, "a", 5)]);
    expect(g!.last.pk).toBe(9n);
    expect(g!.maxPk).toBe(9n);
  });
});

describe("minutesToJudge", () => {
  const groups = accountMinutes([ev(1, "a", 0), ev(2, "b", 0), ev(3, "c", 0)]);

  it("leaves a minute whose later-keyed event is still queued to that event's batch", () => {
    const judged = minutesToJudge(groups, [
      { laterQueued: true, lastStored: ev(10, "a", 50) },
      { laterQueued: false, lastStored: ev(2, "b", 0) },
      { laterQueued: false, lastStored: undefined },
    ]);
    expect(judged.map((j) => j.group.accountId)).toEqual(["b", "c"]);
  });

  it("judges as of the minute's last stored event, which may lie outside the batch", () => {
    const stored = ev(0, "a", 40); // stored with a lower key, evaluated already, later in the minute
    const [j] = minutesToJudge(groups.slice(0, 1), [{ laterQueued: false, lastStored: stored }]);
    expect(j!.asOf).toBe(stored);
    expect(j!.group.maxPk).toBe(1n);
  });

  it("falls back to the batch's own last event when the minute's events are gone (retention)", () => {
    const [j] = minutesToJudge(groups.slice(2), [{ laterQueued: false, lastStored: undefined }]);
    expect(j!.asOf.pk).toBe(3n);
  });
});
