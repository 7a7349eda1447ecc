// Which windows and signal thresholds a rule's conditions read: what evaluation prefetches and
// what a backtest's sliding windows keep.
import { type LinkBy, linkedFactNames } from "./fact-catalog";
import type { RuleDocument } from "./rule-schema";
import { windowMs } from "./window";

/** The windows and (signal, threshold) pairs a rule's conditions ask for, so the replay keeps exactly those. */
export function windowNeeds(rule: RuleDocument): { windows: number[]; signals: { signal: string; threshold: number }[] } {
  const windows = new Set([windowMs(rule.window)]);
  const signals = new Map<string, { signal: string; threshold: number }>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== "object") return;
    const n = node as Record<string, unknown>;
    const params = n.params as Record<string, unknown> | undefined;
    if (typeof n.fact === "string" && params) {
      if (typeof params.window === "string") windows.add(windowMs(params.window));
      if (typeof params.signal === "string") {
        const threshold = typeof params.threshold === "number" ? params.threshold : 0.5;
        signals.set(`${params.signal}:${threshold}`, { signal: params.signal, threshold });
      }
    }
    for (const v of Object.values(n)) visit(v);
  };
  visit(rule.conditions);
  return { windows: [...windows].sort((a, b) => a - b), signals: [...signals.values()] };
}

/** The (by, window) pairs a rule's linked-account facts ask for: what evaluation reads for a whole batch at once. */
export function linkNeeds(rule: RuleDocument): { by: LinkBy; windowMs: number }[] {
  const needs = new Map<string, { by: LinkBy; windowMs: number }>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== "object") return;
    const n = node as Record<string, unknown>;
    if (typeof n.fact === "string" && (linkedFactNames as readonly string[]).includes(n.fact)) {
      const params = (n.params ?? {}) as Record<string, unknown>;
      const by = (typeof params.by === "string" ? params.by : "any") as LinkBy;
      const w = windowMs(typeof params.window === "string" ? params.window : rule.window);
      needs.set(`${by}:${w}`, { by, windowMs: w });
    }
    for (const v of Object.values(n)) visit(v);
  };
  visit(rule.conditions);
  return [...needs.values()];
}
