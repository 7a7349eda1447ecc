// Which windows and signal thresholds a rule's conditions read: what evaluation prefetches and
// what a backtest's sliding windows keep.
import { type LinkBy, type WindowAggregateName, linkedFactNames, windowAggregateNames } from "./fact-catalog";
import type { RuleDocument } from "./rule-schema";
import { windowMs } from "./window";

type Leaf = { fact: string; params: Record<string, unknown> };

/** Every leaf condition (a node with a `fact`) of a condition tree, with its params ({} when none). */
function leaves(node: unknown, out: Leaf[] = []): Leaf[] {
  if (Array.isArray(node)) node.forEach((n) => leaves(n, out));
  else if (node !== null && typeof node === "object") {
    const n = node as Record<string, unknown>;
    if (typeof n.fact === "string") out.push({ fact: n.fact, params: (n.params ?? {}) as Record<string, unknown> });
    for (const v of Object.values(n)) leaves(v, out);
  }
  return out;
}

/** The windows and (signal, threshold) pairs a rule's conditions ask for, so the replay keeps exactly those. */
export function windowNeeds(rule: RuleDocument): { windows: number[]; signals: { signal: string; threshold: number }[] } {
  const windows = new Set([windowMs(rule.window)]);
  const signals = new Map<string, { signal: string; threshold: number }>();
  for (const { params } of leaves(rule.conditions)) {
    if (typeof params.window === "string") windows.add(windowMs(params.window));
    if (typeof params.signal === "string") {
      const threshold = typeof params.threshold === "number" ? params.threshold : 0.5;
      signals.set(`${params.signal}:${threshold}`, { signal: params.signal, threshold });
    }
  }
  return { windows: [...windows].sort((a, b) => a - b), signals: [...signals.values()] };
}

/** The (by, window) pairs a rule's linked-account facts ask for: what evaluation reads for a whole batch at once. */
export function linkNeeds(rule: RuleDocument): { by: LinkBy; windowMs: number }[] {
  const needs = new Map<string, { by: LinkBy; windowMs: number }>();
  for (const { fact, params } of leaves(rule.conditions)) {
    if (!(linkedFactNames as readonly string[]).includes(fact)) continue;
    const by = (typeof params.by === "string" ? params.by : "any") as LinkBy;
    const w = windowMs(typeof params.window === "string" ? params.window : rule.window);
    needs.set(`${by}:${w}`, { by, windowMs: w });
  }
  return [...needs.values()];
}

/**
 * The windows over which a rule's conditions read the account's own totals (its window aggregates:
 * counts, tokens, peaks, and the denominators of shares and signal rates). Evaluation prefetches
 * only these for the whole batch: a rule whose window only scopes linked-account facts (a 30-day
 * ban-evasion check, a 7-day cluster) reads no own totals, and prefetching them for every account
 * of every batch was most of the totals read's rows.
 */
export function ownTotalsWindows(rule: RuleDocument): number[] {
  const windows = new Set<number>();
  for (const { fact, params } of leaves(rule.conditions)) {
    if ((windowAggregateNames as readonly string[]).includes(fact)) windows.add(windowMs(typeof params.window === "string" ? params.window : rule.window));
  }
  return [...windows].sort((a, b) => a - b);
}

const valueFacts: readonly string[] = ["distinctModels", "distinctIps", "distinctCountries", "distinctPromptTemplates", "topTemplateShare"] satisfies WindowAggregateName[];

/**
 * The account's own per-value and signal reads a rule's conditions ask for: the windows of its
 * distinct-value facts and the (signal, threshold, window) of its signalRate facts. Evaluation
 * reads them for a whole batch at once.
 */
export function ownReadNeeds(rule: RuleDocument): { valueWindows: number[]; signals: { signal: string; threshold: number; windowMs: number }[] } {
  const valueWindows = new Set<number>();
  const signals = new Map<string, { signal: string; threshold: number; windowMs: number }>();
  for (const { fact, params } of leaves(rule.conditions)) {
    const w = windowMs(typeof params.window === "string" ? params.window : rule.window);
    if (valueFacts.includes(fact)) valueWindows.add(w);
    if (fact === "signalRate" && typeof params.signal === "string") {
      const threshold = typeof params.threshold === "number" ? params.threshold : 0.5;
      signals.set(`${params.signal}:${threshold}:${w}`, { signal: params.signal, threshold, windowMs: w });
    }
  }
  return { valueWindows: [...valueWindows], signals: [...signals.values()] };
}
