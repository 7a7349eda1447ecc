// How a fact a rule names is read from a FactSource (its query, the window it covers): both evaluators ask through it.
import type { EvidenceWindow, FactSource } from "./evaluation";
import { type IndicatorKind, type LinkBy, type LinkedFactName, type WindowAggregateName, factCatalog } from "./fact-catalog";
import { windowMs } from "./window";

export type FactReader = {
  /** The window a window or linked fact covers, for the evidence. */
  window?: { ms: number; text: string };
  read(source: FactSource): unknown;
};

/** The reader of `fact` with `params` (its own `window`, else the rule's). */
export function factReader(fact: string, params: Record<string, unknown>, ruleWindow: string): FactReader {
  const kind = Object.hasOwn(factCatalog, fact) ? factCatalog[fact]!.kind : undefined;
  if (kind === "event") return { read: (source) => source.event };
  if (kind === "account") return { read: (source) => source.account() };
  if (kind === undefined) throw new Error(`unknown fact '${fact}'`);
  const text = typeof params.window === "string" ? params.window : ruleWindow;
  const window = { ms: windowMs(text), text };
  const signal = params.signal as string | undefined;
  const threshold = params.threshold as number | undefined;
  if (kind === "window") {
    // Frozen: a compiled rule hands the same query to every evaluation.
    const indicator = params.kind === undefined ? {} : { kind: params.kind as IndicatorKind, source: params.source as string };
    const maxAgeDays = params.maxAgeDays === undefined ? {} : { maxAgeDays: params.maxAgeDays as number };
    const query = Object.freeze({ windowMs: window.ms, signal, threshold, ...indicator, ...maxAgeDays });
    return { window, read: (source) => source.windowAggregate(fact as WindowAggregateName, query) };
  }
  const by = (params.by as LinkBy | undefined) ?? "any";
  const reach = params.reach === "direct" ? ("direct" as const) : undefined;
  const query = Object.freeze({ windowMs: window.ms, by, signal, threshold, maxAgeDays: params.maxAgeDays as number | undefined, ...(reach ? { reach } : {}) });
  return { window, read: (source) => source.linkedFact(fact as LinkedFactName, query) };
}

/** Reads a fact for one run, noting its window first; `rank` breaks ties between equal windows (see EvidenceWindow). */
export function readFact(reader: FactReader, source: FactSource, window: EvidenceWindow, rank?: number): unknown {
  if (reader.window) window.cover(reader.window.ms, reader.window.text, rank);
  return reader.read(source);
}
