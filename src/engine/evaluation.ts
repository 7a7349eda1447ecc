// The contract both evaluators keep: the fact source they read, the evaluation they return, and what they share of json-rules-engine's rules.
import { type IndicatorKind, type LinkBy, type LinkReach, type LinkedFactName, type WindowAggregateName, factPriority } from "./fact-catalog";
import type { RuleDocument } from "./rule-schema";

export type EventFact = { eventId: string; accountId: string; occurredAt: string } & Record<string, unknown>;
/**
 * The account fact. `ageDays` counts from the provider's `createdAt` when it gave one
 * (`ageSource: "provider"`, `ageKnown: true`), else from the first sight in ClauseGuard (`"firstSeen"`).
 */
export type AccountFact = {
  status: string;
  firstSeenAt: string;
  createdAt: string | null;
  ageDays: number;
  ageSource: "provider" | "firstSeen";
  ageKnown: boolean;
  verification: string | null;
  plan: string | null;
  confirmedCases: number;
};
/** `kind` and `source`: indicatorMatches' (fact-catalog.ts). */
export type WindowQuery = { windowMs: number; signal?: string; threshold?: number; kind?: IndicatorKind; source?: string; maxAgeDays?: number };
/** reach: absent or "component" reads the account's component; "direct" its one-hop set within the window. */
export type LinkedQuery = WindowQuery & { by: LinkBy; maxAgeDays?: number; reach?: LinkReach };

/** Where fact values come from for one evaluated event. Times are relative to `event.occurredAt`. */
export interface FactSource {
  readonly event: EventFact;
  account(): Promise<AccountFact>;
  windowAggregate(name: WindowAggregateName, query: WindowQuery): Promise<number>;
  linkedFact(name: LinkedFactName, query: LinkedQuery): Promise<number>;
  /** Ids of the account's newest events in the window (newest first), for evidence. */
  contributingEventIds(windowMs: number, limit: number): Promise<string[]>;
}

export type ConditionExplanation = {
  /** Where the condition sits in the rule: `all[0]`, `any[1].not`. */
  path: string;
  fact: string;
  params?: Record<string, unknown>;
  jsonPath?: string;
  operator: string;
  value: unknown;
  factValue: unknown;
  /** null when json-rules-engine short-circuited and never evaluated this condition. */
  result: boolean | null;
  /** Added to a hit's evidence after evaluation (not by the evaluators): how a value was found, e.g. an age from first sight. */
  note?: string;
};

export type Evaluation =
  /** eventIds: the evidence's contributing events, for a hit; empty for a miss. */
  | { outcome: "hit" | "miss"; conditions: ConditionExplanation[]; window: string; eventIds: string[] }
  | { outcome: "error"; error: string };

/** One rule version, ready to judge events. Safe to call concurrently. */
export interface RuleEvaluator {
  readonly rule: RuleDocument;
  readonly version: number;
  evaluate(source: FactSource): Promise<Evaluation>;
}

/** Builds the evaluator of a rule version; `concurrency`: evaluations in flight at once (json-rules-engine keeps an engine for each; closures need none). */
export type RuleCompiler = (rule: RuleDocument, version: number, concurrency?: number) => RuleEvaluator;

/** `compiled`: closures (src/engine/compiled-rule.ts); `json-rules-engine`: the library itself, the oracle. */
export const evaluatorKinds = ["compiled", "json-rules-engine"] as const;
export type EvaluatorKind = (typeof evaluatorKinds)[number];

export const maxEvidenceEvents = 50;

/**
 * The evidence window: the largest window of the facts a run computed, else the rule's own.
 * json-rules-engine keeps the first of equal ones it computes, which depends on promise timing;
 * `rank` (a fact's place in the rule) lets an evaluator choose among equal ones independently of it.
 */
export class EvidenceWindow {
  ms = 0;
  private rank = Number.POSITIVE_INFINITY;

  constructor(public text: string) {}

  cover(ms: number, text: string, rank = Number.POSITIVE_INFINITY): void {
    if (ms > this.ms || (ms === this.ms && rank < this.rank)) {
      this.ms = ms;
      this.text = text;
      this.rank = rank;
    }
  }
}

/** A hit's evidence: the newest events of its window, or the event itself when no window fact was read. */
export function hitEventIds(source: FactSource, window: EvidenceWindow): Promise<string[]> {
  // Evidence only: a miss needs no event list (and would cost a read per evaluation).
  return window.ms > 0 ? source.contributingEventIds(window.ms, maxEvidenceEvents) : Promise.resolve([source.event.eventId]);
}

/** An evaluation failure is an explicit outcome, never a silent "no hit". */
export function evaluationError(err: unknown): Evaluation {
  return { outcome: "error", error: (err as Error).message };
}

/** A condition's place below its parent, as explanations name it: `all[0]`, `any[1].not`. */
export function childPath(parent: string, segment: string): string {
  return `${parent}${parent ? "." : ""}${segment}`;
}

/**
 * The children of an all/any in the order json-rules-engine evaluates them: higher `priority`
 * first (the condition's own, else its fact's: factPriority; a nested all/any/not counts as 1),
 * then as written. It runs the children of one priority together and stops between priorities.
 */
export function evaluationOrder<T extends object>(children: readonly T[]): { child: T; index: number; priority: number }[] {
  const ordered = children.map((child, index) => {
    const c = child as { priority?: unknown; fact?: unknown };
    return { child, index, priority: Number(c.priority) || factPriority(c.fact) };
  });
  return ordered.sort((a, b) => b.priority - a.priority || a.index - b.index);
}
