import type { WindowAggregateName } from "../../engine/fact-catalog";
import { windowNeeds } from "../../engine/window-needs";
import { SlidingWindow, type StreamedEvent } from "./backtest";
import { rng } from "../../../test/support/seeded-random";

const minute = 60_000;

describe("SlidingWindow", () => {
  it("gives the same aggregates as a count over the events in [at - size, at], at every event", () => {
    const r = rng(7);
    let t = Date.parse("2026-11-20T00:00:00Z");
    const events: StreamedEvent[] = [];
    for (let i = 0; i < 800; i++) {
      t += Math.floor(r() * 5 * minute) * (r() < 0.2 ? 0 : 1); // some events share a timestamp
      events.push({
        eventId: `e${i}`,
        accountId: "a",
        occurredAt: new Date(t).toISOString(),
        occurredAtMs: t,
        model: ["m1", "m2"][Math.floor(r() * 2)],
        inputTokens: Math.floor(r() * 100),
        outputTokens: Math.floor(r() * 1000),
        ip: r() < 0.9 ? `10.0.0.${Math.floor(r() * 6)}` : undefined,
        country: ["NL", "US"][Math.floor(r() * 2)],
        promptTemplateHash: r() < 0.7 ? `t${Math.floor(r() * 3)}` : undefined,
        signals: { s: r() < 0.5 ? Math.round(r() * 100) / 100 : r() < 0.5 },
      } as StreamedEvent);
    }
    const signals = [{ signal: "s", threshold: 0.5 }, { signal: "s", threshold: 0.93 }];
    const size = 60 * minute;
    const w = new SlidingWindow(size, signals);
    const names: Exclude<WindowAggregateName, "indicatorMatches" | "newModelShare">[] = ["requestCount", "inputTokens", "outputTokens", "distinctModels", "distinctIps", "distinctCountries", "distinctPromptTemplates", "topTemplateShare", "peakRequestsPerMinute"];
    for (let i = 0; i < events.length; ) {
      let j = i;
      while (j < events.length && events[j]!.occurredAtMs === events[i]!.occurredAtMs) j++;
      for (let k = i; k < j; k++) w.add(events[k]!);
      const at = events[i]!.occurredAtMs;
      w.advanceTo(at);
      const inWin = events.slice(0, j).filter((e) => e.occurredAtMs >= at - size);
      const distinct = (f: (e: StreamedEvent) => unknown) => new Set(inWin.map(f).filter((v) => v !== undefined)).size;
      const count = (f: (e: StreamedEvent) => string | undefined) => {
        const m = new Map<string, number>();
        for (const e of inWin) {
          const k = f(e);
          if (k !== undefined) m.set(k, (m.get(k) ?? 0) + 1);
        }
        return Math.max(0, ...m.values());
      };
      const expected: Record<string, number> = {
        requestCount: inWin.length,
        inputTokens: inWin.reduce((a, e) => a + (e.inputTokens as number), 0),
        outputTokens: inWin.reduce((a, e) => a + (e.outputTokens as number), 0),
        distinctModels: distinct((e) => e.model),
        distinctIps: distinct((e) => e.ip),
        distinctCountries: distinct((e) => e.country),
        distinctPromptTemplates: distinct((e) => e.promptTemplateHash),
        topTemplateShare: count((e) => e.promptTemplateHash as string | undefined) / inWin.length,
        peakRequestsPerMinute: count((e) => String(Math.floor(e.occurredAtMs / minute))),
      };
      expect(Object.fromEntries(names.map((n) => [n, w.aggregate(n)]))).toEqual(expected);
      for (const { threshold } of signals) {
        const hits = inWin.filter((e) => { const v = e.signals?.s; return v === true || (typeof v === "number" && v >= threshold); }).length;
        expect(w.aggregate("signalRate", "s", threshold)).toBeCloseTo(hits / inWin.length, 12);
      }
      expect(w.newestIds(3)).toEqual(inWin.slice(-3).reverse().map((e) => e.eventId));
      const perModel = new Map<string, number>();
      for (const e of inWin) perModel.set(e.model as string, (perModel.get(e.model as string) ?? 0) + 1);
      expect(new Map(w.modelRequests())).toEqual(perModel);
      i = j;
    }
  });
});

describe("windowNeeds", () => {
  it("collects every window and signal threshold a rule's conditions use", () => {
    const needs = windowNeeds({
      id: "x", name: "x", description: "", clause: { ref: "1", text: "t" }, severity: "low", scope: "account", window: "24h", enabled: true, recommendedAction: "none",
      conditions: { all: [
        { fact: "signalRate", operator: "greaterThan", value: 0.3, params: { signal: "a" } },
        { any: [{ fact: "outputTokens", operator: "greaterThan", value: 1, params: { window: "7d" } }, { fact: "clusterSignalRate", operator: "greaterThan", value: 0.1, params: { signal: "b", threshold: 0.9, window: "1h" } }] },
      ] },
    });
    expect(needs.windows).toEqual([3_600_000, 86_400_000, 7 * 86_400_000]);
    expect(needs.signals).toEqual([{ signal: "a", threshold: 0.5 }, { signal: "b", threshold: 0.9 }]);
  });
});
