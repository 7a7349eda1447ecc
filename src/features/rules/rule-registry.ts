// The compiled, enabled rules one process evaluates with: reloaded when any process changes a rule.
// The evaluation service asks before every batch it claims, so a change committed before an
// event was stored is in effect when that event is evaluated (one small query per batch).
import type { RuleCompiler, RuleEvaluator } from "../../engine/evaluation";
import { validateRule } from "../../engine/rule-schema";
import type { Logger } from "../../shared/logger";
import type { RuleService } from "./rule-service";

/**
 * json-rules-engine runs one evaluation per engine at a time: with that evaluator each rule gets
 * this many engines, so this many evaluations of a rule overlap (the compiled evaluator has no limit).
 */
const jsonRulesEnginesPerRule = 8;

/** `compile`: the process's evaluator (CLAUSEGUARD_EVALUATOR), chosen in the composition root. */
export function createRuleRegistry(rules: RuleService, logger: Logger, compile: RuleCompiler, refreshMs = 0) {
  let compiled: RuleEvaluator[] = [];
  let fingerprint: string | undefined;
  let checkedAt = 0;

  async function refresh(): Promise<void> {
    const fp = await rules.rulesFingerprint();
    checkedAt = Date.now();
    if (fp === fingerprint) return;
    const byKey = new Map(compiled.map((c) => [`${c.rule.id}@${c.version}`, c]));
    const next: RuleEvaluator[] = [];
    for (const { rule, version } of await rules.activeRules()) {
      const kept = byKey.get(`${rule.id}@${version}`);
      if (kept) {
        next.push(kept);
        continue;
      }
      // Stored versions were validated when saved; re-checking guards against a hand-edited row.
      const v = validateRule(rule);
      if (!v.ok) {
        logger.error({ ruleId: rule.id, version, errors: v.errors }, "stored rule version is invalid; not evaluated");
        continue;
      }
      next.push(compile(v.rule, version, jsonRulesEnginesPerRule));
    }
    compiled = next;
    fingerprint = fp;
    logger.info({ rules: compiled.map((c) => `${c.rule.id}@${c.version}`) }, "rules loaded");
  }

  return {
    refresh,
    /** The current rules, re-read from the database when the last check is older than refreshMs. */
    async current(now = Date.now()): Promise<RuleEvaluator[]> {
      if (fingerprint === undefined || now - checkedAt >= refreshMs) await refresh();
      return compiled;
    },
  };
}

export type RuleRegistry = ReturnType<typeof createRuleRegistry>;
