// A rule version compiled with its named lists bound (named-lists.ts): apart from named-lists.ts,
// which the operators and the validator import, so that the engine's modules stay acyclic.
import type { RuleCompiler, RuleEvaluator } from "./evaluation";
import { type ListLookup, bindLists, listRefs } from "./named-lists";
import type { RuleDocument } from "./rule-schema";

/** The evaluator of a rule version whose `{ list }` values ask `lookup`; it still shows the document as given. */
export function compileBound(compile: RuleCompiler, rule: RuleDocument, version: number, lookup: ListLookup | undefined, concurrency?: number): RuleEvaluator {
  if (!lookup || listRefs(rule.conditions).length === 0) return compile(rule, version, concurrency);
  const bound = compile({ ...rule, conditions: bindLists(rule.conditions, lookup) }, version, concurrency);
  return { rule, version, evaluate: (source) => bound.evaluate(source) };
}
