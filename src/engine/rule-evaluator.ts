// The only code that wraps json-rules-engine: compiles a validated rule into an engine, runs it
// against a FactSource and explains the outcome condition by condition.
import { Engine } from "json-rules-engine";
import { type LinkBy, type LinkedFactName, type WindowAggregateName, factCatalog, factPriority, linkedFactNames, windowAggregateNames } from "./fact-catalog";
import { customOperators } from "./operators";
import type { RuleDocument } from "./rule-schema";
import { windowMs } from "./window";

export type EventFact = { eventId: string; accountId: string; occurredAt: string } & Record<string, unknown>;
export type AccountFact = { status: string; firstSeenAt: string; ageDays: number; confirmedCases: number };
export type WindowQuery = { windowMs: number; signal?: string; threshold?: number };
export type LinkedQuery = WindowQuery & { by: LinkBy; maxAgeDays?: number };

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
};

export type Evaluation =
  /** eventIds: the evidence's contributing events, for a hit; empty for a miss. */
  | { outcome: "hit" | "miss"; conditions: ConditionExplanation[]; window: string; eventIds: string[] }
  | { outcome: "error"; error: string };

export const maxEvidenceEvents = 50;

type RunContext = { source: FactSource; largestWindowMs: number; largestWindow: string };

/** Reads `$.a.b[0]` (validated by the rule schema) through own properties only: no prototype access. */
function simplePathResolver(value: object, path: string): unknown {
  let current: unknown = value;
  for (const m of path.slice(1).matchAll(/\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]/g)) {
    const key = m[1] ?? Number(m[2]);
    if (current === null || typeof current !== "object" || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

export class CompiledRule {
  private readonly defaultWindowMs: number;
  /**
   * json-rules-engine shares run state across concurrent runs of one Engine (issue 303), so each
   * run takes an engine of its own from this pool, waiting when all are busy. Several engines let
   * evaluations that wait on the database overlap.
   */
  private readonly idle: Engine[] = [];
  private readonly waiting: ((engine: Engine) => void)[] = [];

  constructor(
    readonly rule: RuleDocument,
    readonly version: number,
    engines = 1,
  ) {
    this.defaultWindowMs = windowMs(rule.window);
    for (let i = 0; i < Math.max(1, engines); i++) this.idle.push(this.buildEngine());
  }

  private buildEngine(): Engine {
    const engine = new Engine([], { pathResolver: simplePathResolver, allowUndefinedFacts: false });
    for (const [name, op] of Object.entries(customOperators)) engine.addOperator(name, op.evaluate);
    this.registerFacts(engine);
    engine.addRule({ name: this.rule.id, conditions: this.rule.conditions as never, event: { type: "hit" } });
    return engine;
  }

  async evaluate(source: FactSource): Promise<Evaluation> {
    const engine = this.idle.pop() ?? (await new Promise<Engine>((resolve) => this.waiting.push(resolve)));
    try {
      return await this.runOnce(engine, source);
    } finally {
      const next = this.waiting.shift();
      if (next) next(engine);
      else this.idle.push(engine);
    }
  }

  private async runOnce(engine: Engine, source: FactSource): Promise<Evaluation> {
    const context: RunContext = { source, largestWindowMs: 0, largestWindow: this.rule.window };
    try {
      const { results, failureResults } = await engine.run({ $run: context });
      const ruleResult = results[0] ?? failureResults[0];
      if (!ruleResult) return { outcome: "error", error: "json-rules-engine returned no result for the rule" };
      const conditions: ConditionExplanation[] = [];
      explain(ruleResult.conditions as unknown as Record<string, unknown>, "", conditions);
      if (results.length === 0) return { outcome: "miss", conditions, window: context.largestWindow, eventIds: [] };
      // Evidence only: a miss needs no event list (and would cost a read per evaluation).
      const eventIds =
        context.largestWindowMs > 0
          ? await source.contributingEventIds(context.largestWindowMs, maxEvidenceEvents)
          : [source.event.eventId];
      return { outcome: "hit", conditions, window: context.largestWindow, eventIds };
    } catch (err) {
      // An evaluation failure is an explicit outcome, never a silent "no hit".
      return { outcome: "error", error: (err as Error).message };
    }
  }

  private registerFacts(engine: Engine): void {
    const ctx = async (almanac: { factValue(id: string): Promise<unknown> }) => (await almanac.factValue("$run")) as RunContext;
    const windowOf = (params: Record<string, unknown>, run: RunContext) => {
      const text = typeof params.window === "string" ? params.window : this.rule.window;
      const ms = text === this.rule.window ? this.defaultWindowMs : windowMs(text);
      if (ms > run.largestWindowMs) Object.assign(run, { largestWindowMs: ms, largestWindow: text });
      return ms;
    };
    const priority = (name: string) => ({ priority: factPriority(name) });
    engine.addFact("event", async (_p, almanac) => (await ctx(almanac)).source.event, priority("event"));
    engine.addFact("account", async (_p, almanac) => (await ctx(almanac)).source.account(), priority("account"));
    for (const name of windowAggregateNames) {
      engine.addFact(name, async (params: Record<string, unknown>, almanac) => {
        const run = await ctx(almanac);
        return run.source.windowAggregate(name, {
          windowMs: windowOf(params, run),
          signal: params.signal as string | undefined,
          threshold: params.threshold as number | undefined,
        });
      }, priority(name));
    }
    for (const name of linkedFactNames) {
      engine.addFact(name, async (params: Record<string, unknown>, almanac) => {
        const run = await ctx(almanac);
        return run.source.linkedFact(name, {
          windowMs: windowOf(params, run),
          by: (params.by as LinkBy | undefined) ?? "any",
          signal: params.signal as string | undefined,
          threshold: params.threshold as number | undefined,
          maxAgeDays: params.maxAgeDays as number | undefined,
        });
      }, priority(name));
    }
    const registered = ["event", "account", ...windowAggregateNames, ...linkedFactNames];
    const missing = Object.keys(factCatalog).filter((f) => !registered.includes(f));
    if (missing.length) throw new Error(`facts in the catalog without an implementation: ${missing.join(", ")}`);
  }
}

/**
 * Walks the evaluated condition tree (not toJSON(), which drops results) into a flat list of
 * leaves, in the order json-rules-engine evaluates them: within each all/any, higher `priority`
 * first (the condition's own, else its fact's: factPriority; a nested all/any counts as 1), then
 * as written. `path` keeps each leaf's place in the rule.
 */
function explain(node: Record<string, unknown>, path: string, out: ConditionExplanation[]): void {
  for (const kind of ["all", "any"] as const) {
    if (Array.isArray(node[kind])) {
      const children = (node[kind] as Record<string, unknown>[]).map((c, i) => ({ c, i, priority: Number(c.priority) || factPriority(c.fact) }));
      children.sort((a, b) => b.priority - a.priority || a.i - b.i);
      for (const { c, i } of children) explain(c, `${path}${path ? "." : ""}${kind}[${i}]`, out);
      return;
    }
  }
  if (node.not && typeof node.not === "object") {
    explain(node.not as Record<string, unknown>, `${path}${path ? "." : ""}not`, out);
    return;
  }
  const evaluated = typeof node.result === "boolean";
  out.push({
    path,
    fact: node.fact as string,
    ...(node.params ? { params: node.params as Record<string, unknown> } : {}),
    ...(node.path ? { jsonPath: node.path as string } : {}),
    operator: node.operator as string,
    value: "valueResult" in node ? node.valueResult : node.value,
    factValue: evaluated ? (node.factResult ?? null) : null,
    result: evaluated ? (node.result as boolean) : null,
  });
}
