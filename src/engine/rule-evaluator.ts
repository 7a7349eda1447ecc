// The only code that wraps json-rules-engine: compiles a validated rule into an engine, runs it
// against a FactSource and explains the outcome condition by condition.
import { Engine } from "json-rules-engine";
import { type ConditionExplanation, type Evaluation, EvidenceWindow, type FactSource, type RuleEvaluator, childPath, evaluationError, evaluationOrder, hitEventIds } from "./evaluation";
import { factNames, factPriority } from "./fact-catalog";
import { factReader, readFact } from "./fact-reader";
import { customOperators } from "./operators";
import type { RuleDocument } from "./rule-schema";
import { simplePathResolver } from "./simple-path";

type RunContext = { source: FactSource; window: EvidenceWindow };

export class CompiledRule implements RuleEvaluator {
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
    const context: RunContext = { source, window: new EvidenceWindow(this.rule.window) };
    try {
      const { results, failureResults } = await engine.run({ $run: context });
      const ruleResult = results[0] ?? failureResults[0];
      if (!ruleResult) return { outcome: "error", error: "json-rules-engine returned no result for the rule" };
      const conditions: ConditionExplanation[] = [];
      explain(ruleResult.conditions as unknown as Record<string, unknown>, "", conditions);
      if (results.length === 0) return { outcome: "miss", conditions, window: context.window.text, eventIds: [] };
      return { outcome: "hit", conditions, window: context.window.text, eventIds: await hitEventIds(source, context.window) };
    } catch (err) {
      return evaluationError(err);
    }
  }

  private registerFacts(engine: Engine): void {
    const ctx = async (almanac: { factValue(id: string): Promise<unknown> }) => (await almanac.factValue("$run")) as RunContext;
    for (const name of factNames) {
      engine.addFact(
        name,
        async (params: Record<string, unknown>, almanac) => {
          const run = await ctx(almanac);
          return readFact(factReader(name, params, this.rule.window), run.source, run.window);
        },
        { priority: factPriority(name) },
      );
    }
  }
}

/**
 * Walks the evaluated condition tree (not toJSON(), which drops results) into a flat list of
 * leaves, in the order json-rules-engine evaluates them (evaluationOrder). `path` keeps each
 * leaf's place in the rule.
 */
function explain(node: Record<string, unknown>, path: string, out: ConditionExplanation[]): void {
  for (const kind of ["all", "any"] as const) {
    if (Array.isArray(node[kind])) {
      for (const { child, index } of evaluationOrder(node[kind] as Record<string, unknown>[])) explain(child, childPath(path, `${kind}[${index}]`), out);
      return;
    }
  }
  if (node.not && typeof node.not === "object") {
    explain(node.not as Record<string, unknown>, childPath(path, "not"), out);
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
