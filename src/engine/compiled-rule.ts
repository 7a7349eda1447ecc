// Rules compiled to closures, run with json-rules-engine 7.3's semantics exactly (compiled-rule.test.ts holds them to it).
import { type ConditionExplanation, type Evaluation, EvidenceWindow, type FactSource, type RuleEvaluator, childPath, evaluationError, evaluationOrder, hitEventIds } from "./evaluation";
import { type FactReader, factReader, readFact } from "./fact-reader";
import { type Comparison, compileOperator } from "./operators";
import { NamedListValue } from "./named-lists";
import type { Condition, ConditionLeaf, FactReference, RuleDocument } from "./rule-schema";
import { compileSimplePath } from "./simple-path";

/** A fact not read yet in this run (a fact's value may itself be undefined). */
const unread = Symbol("unread");

/** The state of one evaluation; nothing else changes while a rule runs, so runs may overlap. */
type Run = {
  source: FactSource;
  window: EvidenceWindow;
  /** By fact slot, (fact, params) as json-rules-engine's almanac caches them: a promise until it settles. */
  facts: unknown[];
  /** By leaf, in explanation order; undefined while (or when never) evaluated. */
  results: (boolean | undefined)[];
  factValues: unknown[];
  values: unknown[];
};

type Node = (run: Run) => boolean | Promise<boolean>;
type Operand = { slot: number; path?: (value: object) => unknown };
type Leaf = Omit<ConditionExplanation, "factValue" | "result">;

/**
 * A validated rule's conditions as functions, built once: an evaluation then calls them, without
 * json-rules-engine's per-run cloning, almanac hashing, JSONPath and promise chains, and awaits
 * only facts the source has not answered yet. Every run keeps its state in its own Run, so
 * evaluations may overlap (no engine pool).
 */
export function compileRule(rule: RuleDocument, version: number): RuleEvaluator {
  // A frozen copy of its own: explanations hand out its values and params without cloning them
  // on every evaluation, and nothing a caller does to the document or an explanation changes the rule.
  // A bound named list (named-lists.ts) is kept as it is: it is immutable, and its lookup changes with the list.
  const conditions = deepFreeze(cloneKeepingLists(rule.conditions));
  const compiler = new Compiler(rule.window);
  const root = compiler.node(conditions, "");
  const { leaves, readers } = compiler;

  return {
    rule,
    version,
    async evaluate(source: FactSource): Promise<Evaluation> {
      const run: Run = {
        source,
        window: new EvidenceWindow(rule.window),
        facts: new Array<unknown>(readers.length).fill(unread),
        results: new Array<boolean | undefined>(leaves.length),
        factValues: new Array<unknown>(leaves.length),
        values: new Array<unknown>(leaves.length),
      };
      try {
        let passed = root(run);
        if (typeof passed !== "boolean") passed = await passed;
        const explained = explain(leaves, run);
        if (!passed) return { outcome: "miss", conditions: explained, window: run.window.text, eventIds: [] };
        return { outcome: "hit", conditions: explained, window: run.window.text, eventIds: await hitEventIds(source, run.window) };
      } catch (err) {
        return evaluationError(err);
      }
    },
  };
}

class Compiler {
  /** Leaves in explanation order (json-rules-engine's evaluation order). */
  readonly leaves: Leaf[] = [];
  /** One per distinct (fact, params); its index is its place in the rule, first use first. */
  readonly readers: FactReader[] = [];
  private readonly slots = new Map<string, number>();

  constructor(private readonly ruleWindow: string) {}

  node(node: Condition, path: string): Node {
    // The order json-rules-engine checks the kinds in; the schema allows exactly one.
    const kind = Object.hasOwn(node, "any") ? "any" : Object.hasOwn(node, "all") ? "all" : Object.hasOwn(node, "not") ? "not" : undefined;
    if (kind === "not") {
      const inner = this.node((node as { not: Condition }).not, childPath(path, "not"));
      return (run) => {
        const r = inner(run);
        return typeof r === "boolean" ? !r : r.then((v) => !v);
      };
    }
    if (kind === undefined) return this.leaf(node as ConditionLeaf, path);
    const children = (node as Record<typeof kind, Condition[]>)[kind];
    // Compiled in evaluation order, so leaves and fact slots are numbered in that order.
    const ordered = evaluationOrder(children).map(({ child, index, priority }) => ({ priority, run: this.node(child, childPath(path, `${kind}[${index}]`)) }));
    // json-rules-engine evaluates a single child directly; all and any agree on one child.
    if (ordered.length === 1) return ordered[0]!.run;
    const groups: Node[][] = [];
    ordered.forEach((c, i) => (i > 0 && c.priority === ordered[i - 1]!.priority ? groups[groups.length - 1]!.push(c.run) : groups.push([c.run])));
    return priorityGroups(groups, kind === "all");
  }

  private leaf(node: ConditionLeaf, path: string): Node {
    const index = this.leaves.length;
    const literal = node.value;
    // The value's fact first: json-rules-engine asks its almanac for it before the condition's fact.
    const ref = isFactReference(literal) ? this.operand(literal.fact, literal.params, literal.path) : undefined;
    const fact = this.operand(node.fact, node.params, node.path);
    const compare: Comparison = compileOperator(node.operator);
    this.leaves.push({
      path,
      fact: node.fact,
      ...(node.params ? { params: node.params } : {}),
      ...(node.path ? { jsonPath: node.path } : {}),
      operator: node.operator,
      value: literal,
    });
    const settle = (run: Run, factValue: unknown, value: unknown): boolean => {
      const result = compare(factValue, value);
      run.results[index] = result;
      run.factValues[index] = factValue;
      run.values[index] = value;
      return result;
    };
    return (run) => {
      const value = ref ? this.read(run, ref) : literal;
      const factValue = this.read(run, fact);
      // Usually only the fact waits (the value is written in the rule): one promise, not Promise.all's.
      if (isThenable(factValue)) {
        return isThenable(value) ? Promise.all([value, factValue]).then(([v, f]) => settle(run, f, v)) : Promise.resolve(factValue).then((f) => settle(run, f, value));
      }
      return isThenable(value) ? Promise.resolve(value).then((v) => settle(run, factValue, v)) : settle(run, factValue, value);
    };
  }

  private operand(fact: string, params: Record<string, unknown> | undefined, path: string | undefined): Operand {
    // The almanac's cache key is a hash of { id, params } with keys sorted; no params means {}.
    const p = params ?? {};
    const key = JSON.stringify([fact, Object.keys(p).sort().map((k) => [k, p[k]])]);
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.readers.push(factReader(fact, p, this.ruleWindow)) - 1;
      this.slots.set(key, slot);
    }
    // An empty path means none, as in json-rules-engine.
    return path ? { slot, path: compileSimplePath(path) } : { slot };
  }

  /** A fact's value for this run (read once per slot), then its path if it is an object. */
  private read(run: Run, { slot, path }: Operand): unknown {
    let value = run.facts[slot];
    if (value === unread) {
      try {
        value = readFact(this.readers[slot]!, run.source, run.window, slot);
      } catch (err) {
        value = Promise.reject(err);
      }
      // Later reads of a settled fact are synchronous.
      if (isThenable(value)) value = Promise.resolve(value).then((v) => (run.facts[slot] = v));
      run.facts[slot] = value;
    }
    if (!path) return value;
    return isThenable(value) ? value.then((v) => pathOf(v, path)) : pathOf(value, path);
  }
}

/** json-rules-engine applies a path only to an object; anything else is compared as it is. */
function pathOf(value: unknown, path: (value: object) => unknown): unknown {
  return value !== null && typeof value === "object" ? path(value) : value;
}

/**
 * An all (every = true) or any of children grouped by priority, highest first: all of one group
 * are evaluated (their facts read side by side), and the next group only if this one left the
 * answer open, as json-rules-engine's prioritizeAndRun does.
 */
function priorityGroups(groups: Node[][], every: boolean): Node {
  const from = (run: Run, g: number): boolean | Promise<boolean> => {
    for (; g < groups.length; g++) {
      const r = group(run, groups[g]!, every);
      if (typeof r !== "boolean") {
        const next = g + 1;
        return r.then((v) => (v === every ? from(run, next) : v));
      }
      if (r !== every) return r;
    }
    return every;
  };
  return (run) => from(run, 0);
}

function group(run: Run, children: Node[], every: boolean): boolean | Promise<boolean> {
  let decided = every;
  let pending: Promise<boolean>[] | undefined;
  for (const child of children) {
    let r: boolean | Promise<boolean>;
    try {
      r = child(run);
    } catch (err) {
      // The rest of the group still starts, as in json-rules-engine, and the run fails once it settles.
      r = Promise.reject(err);
    }
    if (typeof r !== "boolean") (pending ??= []).push(r);
    else if (r !== every) decided = r;
  }
  if (!pending) return decided;
  if (pending.length === 1) return pending[0]!.then((r) => (r !== every ? r : decided));
  return Promise.all(pending).then((rs) => (rs.some((r) => r !== every) ? !every : decided));
}

function explain(leaves: Leaf[], run: Run): ConditionExplanation[] {
  return leaves.map((leaf, i) => {
    const result = run.results[i];
    // Written out rather than spread: this runs for every leaf of every evaluation.
    const explained: ConditionExplanation = { path: leaf.path, fact: leaf.fact } as ConditionExplanation;
    if (leaf.params) explained.params = leaf.params;
    if (leaf.jsonPath) explained.jsonPath = leaf.jsonPath;
    explained.operator = leaf.operator;
    explained.value = result === undefined ? leaf.value : run.values[i];
    explained.factValue = result === undefined ? null : (run.factValues[i] ?? null);
    explained.result = result ?? null;
    return explained;
  });
}

function isFactReference(value: unknown): value is FactReference {
  return value !== null && typeof value === "object" && Object.hasOwn(value, "fact");
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as { then?: unknown }).then === "function";
}

function cloneKeepingLists<T>(value: T): T {
  if (value instanceof NamedListValue || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(cloneKeepingLists) as T;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cloneKeepingLists(v)])) as T;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !(value instanceof NamedListValue) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
