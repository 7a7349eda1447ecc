// The evaluator a process judges with (CLAUSEGUARD_EVALUATOR): compiled closures, or json-rules-engine, their oracle.
import { compileRule } from "./compiled-rule";
import type { EvaluatorKind, RuleCompiler } from "./evaluation";
import { CompiledRule } from "./rule-evaluator";

export function ruleCompiler(kind: EvaluatorKind): RuleCompiler {
  switch (kind) {
    case "compiled":
      return (rule, version) => compileRule(rule, version);
    case "json-rules-engine":
      // One engine per evaluation in flight: json-rules-engine's runs cannot share one (issue 303).
      return (rule, version, concurrency = 1) => new CompiledRule(rule, version, concurrency);
    default:
      throw new Error(`unknown evaluator '${String(kind)}'; known: compiled, json-rules-engine`);
  }
}
