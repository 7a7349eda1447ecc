// The uniting pass's decisions, without a database: which components merge into which (union by
// size) and how a set of accounts splits by its links, against a plain graph search.
import fc from "fast-check";
import { type ComponentNode, componentsAmong, planUnions } from "./link-components";

/** Connected sets of the graph whose edges join each group's nodes (plain search). */
function connected(groups: string[][]): Set<string>[] {
  const next = new Map<string, Set<string>>();
  for (const g of groups) for (const a of g) for (const b of g) next.set(a, (next.get(a) ?? new Set()).add(b));
  const seen = new Set<string>();
  const sets: Set<string>[] = [];
  for (const start of next.keys()) {
    if (seen.has(start)) continue;
    const set = new Set([start]);
    for (const queue = [start]; queue.length; ) {
      for (const n of next.get(queue.pop()!)!) {
        if (set.has(n)) continue;
        set.add(n);
        queue.push(n);
      }
    }
    set.forEach((n) => seen.add(n));
    sets.push(set);
  }
  return sets;
}

describe("planUnions", () => {
  it("moves the smaller component into the larger, and accounts alone into the component they join", () => {
    const of = (id: string): ComponentNode => ({ big: { key: "any:big", size: 50 }, small: { key: "any:small", size: 3 } })[id] ?? { key: `any:${id}`, size: 1 };
    const moves = planUnions(of, [["big", "small"], ["small", "lone"]]);
    expect(Object.fromEntries(moves)).toEqual({ "any:small": "any:big", "any:lone": "any:big" });
  });

  it("keeps the smallest key among components of one size, and moves nothing already together", () => {
    const of = (id: string): ComponentNode => ({ key: `any:${id}`, size: 1 });
    expect(Object.fromEntries(planUnions(of, [["c", "a"], ["b", "c"]]))).toEqual({ "any:b": "any:a", "any:c": "any:a" });
    expect(planUnions(() => ({ key: "any:x", size: 4 }), [["p", "q", "r"]]).size).toBe(0);
  });

  it("gives every connected set one key, its largest component's, on random graphs", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 5 }), { maxLength: 25 }),
        fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 31, maxLength: 31 }),
        (raw, sizes) => {
          // Nodes are components with random sizes; accounts n map to component n.
          const groups = raw.map((g) => g.map(String));
          const moves = planUnions((id) => ({ key: `k${id}`, size: sizes[Number(id)]! }), groups);
          const final = (k: string) => moves.get(k) ?? k;
          for (const set of connected(groups)) {
            const keys = [...set].map((id) => `k${id}`);
            const targets = new Set(keys.map(final));
            expect(targets.size).toBe(1);
            const [target] = targets;
            const largest = Math.max(...[...set].map((id) => sizes[Number(id)]!));
            expect(sizes[Number(target!.slice(1))]).toBe(largest);
            // Every move goes straight to the set's key (no chains to follow).
            for (const k of keys) if (moves.has(k)) expect(moves.get(k)).toBe(target);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("componentsAmong", () => {
  it("splits accounts into the components their shared values form, leaving the lone ones out", () => {
    const links = [
      { value: "card:1", accountId: "a" },
      { value: "card:1", accountId: "b" },
      { value: "net:9", accountId: "b" },
      { value: "net:9", accountId: "c" },
      { value: "org:x", accountId: "d" },
      { value: "org:y", accountId: "e" },
      { value: "org:y", accountId: "f" },
    ];
    expect(componentsAmong(links).sort()).toEqual([["a", "b", "c"], ["e", "f"]]);
  });
});
