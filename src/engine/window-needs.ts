// Which windows, signal thresholds and link scopes a rule's conditions read: what a backtest's
// sliding windows keep, and which linked-account components the uniting pass keeps.
import { type LinkBy, factCatalog, isFactName, linkByParam } from "./fact-catalog";
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

/**
 * The link scopes (`by`, default "any") a condition tree reads linked facts in, whether as a
 * condition's fact or as a fact its value refers to.
 */
export function linkScopesOf(conditions: unknown): LinkBy[] {
  const found = new Set<LinkBy>();
  for (const { fact, params } of leaves(conditions)) {
    // A one-hop read needs no component of its scope.
    if (!isFactName(fact) || factCatalog[fact]!.kind !== "linked" || params.reach === "direct") continue;
    const by = linkByParam.safeParse(params.by ?? "any");
    if (by.success) found.add(by.data);
  }
  return [...found].sort();
}
