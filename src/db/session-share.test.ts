// Who gets the embedded database's one session next: a fake clock, holders that keep the session
// for fixed times, and the order and share of time each class gets.
import { SessionShare } from "./session-share";

/** Runs `rounds` grants with both classes always waiting; each holder keeps the session `holdMs[cls]`. */
async function contend(lock: SessionShare, clock: { t: number }, rounds: number, holdMs: { foreground: number; background: number }) {
  const time = { foreground: 0, background: 0 };
  const order: string[] = [];
  let current = { who: {}, cls: "foreground" as const as "foreground" | "background" };
  await lock.acquire(current.who, current.cls);
  // Two waiters of each class, replaced as they are served.
  const queue = (cls: "foreground" | "background") => {
    const who = {};
    void lock.acquire(who, cls).then(() => (current = { who, cls }));
  };
  for (const cls of ["foreground", "foreground", "background", "background"] as const) queue(cls);
  for (let i = 0; i < rounds; i++) {
    clock.t += holdMs[current.cls];
    time[current.cls] += holdMs[current.cls];
    order.push(current.cls[0]!);
    const done = current;
    lock.release(done.who);
    await new Promise(setImmediate); // the next holder's acquire has resolved
    expect(lock.holds(current.who)).toBe(true);
    queue(done.cls);
  }
  return { time, order: order.join("") };
}

describe("SessionShare", () => {
  const setup = (backgroundShare = 0.25) => {
    const clock = { t: 0 };
    return { clock, lock: new SessionShare({ backgroundShare, memoryMs: 2_000, now: () => clock.t }) };
  };

  it("gives background work its share of the time while foreground work waits, and no more", async () => {
    const { clock, lock } = setup(0.25);
    // Evaluation's transactions are long (40 ms), ingestion's short (10 ms).
    const { time } = await contend(lock, clock, 2_000, { foreground: 10, background: 40 });
    const share = time.background / (time.background + time.foreground);
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThan(0.3);
    expect(lock.backgroundUse).toBeGreaterThan(0.2);
  });

  it("follows the configured share", async () => {
    const { clock, lock } = setup(0.5);
    const { time } = await contend(lock, clock, 2_000, { foreground: 10, background: 10 });
    expect(time.background / (time.background + time.foreground)).toBeCloseTo(0.5, 1);
  });

  it("never starves background work: it is served within a few foreground grants", async () => {
    const { clock, lock } = setup(0.25);
    const { order } = await contend(lock, clock, 400, { foreground: 10, background: 10 });
    // With equal holds the share is two grants in eight: never more than six foreground grants in a row after the start.
    expect(order.slice(20)).not.toMatch(/f{7}/);
    expect(order).toContain("b");
  });

  it("lets either class have the session whenever the other does not want it, first come first served", async () => {
    const { clock, lock } = setup(0.25);
    const served: string[] = [];
    const first = {};
    await lock.acquire(first, "background");
    const waiters = ["b1", "b2", "b3"].map((name) => {
      const who = {};
      return { who, done: lock.acquire(who, "background").then(() => served.push(name)) };
    });
    expect(lock.queued).toBe(3);
    clock.t += 100;
    lock.release(first);
    for (const w of waiters) {
      await w.done;
      clock.t += 100;
      lock.release(w.who);
    }
    expect(served).toEqual(["b1", "b2", "b3"]);
    // Background had all of the time, yet was never held back: nothing else wanted the session.
    expect(lock.backgroundUse).toBe(1);
    expect(lock.queued).toBe(0);
  });

  it("forgets a waiter that went away and ignores a release by one that does not hold the session", async () => {
    const { lock } = setup();
    const a = {};
    const b = {};
    const c = {};
    await lock.acquire(a, "foreground");
    let bServed = false;
    void lock.acquire(b, "foreground").then(() => (bServed = true));
    const cServed = lock.acquire(c, "background");
    lock.forget(b);
    lock.release(c);
    expect(lock.holds(a)).toBe(true);
    lock.release(a);
    await cServed;
    expect(lock.holds(c)).toBe(true);
    expect(bServed).toBe(false);
  });

  it("forgets old use: a burst of background work long ago does not hold it back now", async () => {
    const { clock, lock } = setup(0.25);
    const a = {};
    await lock.acquire(a, "background");
    clock.t += 10_000;
    lock.release(a);
    clock.t += 20_000; // ten time constants later
    const f = {};
    await lock.acquire(f, "foreground");
    const fg2 = {};
    const bg = {};
    const order: string[] = [];
    const p1 = lock.acquire(fg2, "foreground").then(() => order.push("f"));
    const p2 = lock.acquire(bg, "background").then(() => order.push("b"));
    clock.t += 10;
    lock.release(f);
    await Promise.race([p1, p2]);
    // Ten seconds of background use, decayed over 20 s (e^-10), weigh less than 10 ms of foreground now.
    expect(order).toEqual(["b"]);
  });
});
