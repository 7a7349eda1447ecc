// The compiled, enabled rules one process evaluates with, and the shadow versions it evaluates
// beside them: reloaded when any process changes a rule, a shadow or a named list. The evaluation
// service asks before every batch it claims, so a change committed before an event was stored is
// in effect when that event is evaluated (one small query per batch).
import type { RuleCompiler, RuleEvaluator } from "../../engine/evaluation";
import { compileBound } from "../../engine/list-binding";
import { listRefs } from "../../engine/named-lists";
import { type RuleDocument, validateRule } from "../../engine/rule-schema";
import type { Logger } from "../../shared/logger";
import type { ListCatalog } from "../lists/list-catalog";
import type { RuleService } from "./rule-service";

/**
 * json-rules-engine runs one evaluation per engine at a time: with that evaluator each rule gets
 * this many engines, so this many evaluations of a rule overlap (the compiled evaluator has no limit).
 */
const jsonRulesEnginesPerRule = 8;

/** A candidate version evaluated beside the active one: its hits open no case (docs/rule-lifecycle.md). */
export type ShadowEvaluator = { shadowId: string; endsAt: number | null; evaluator: RuleEvaluator };

/** `compile`: the process's evaluator (CLAUSEGUARD_EVALUATOR), chosen in the composition root; `lists`: where `{ list }` values look. */
export function createRuleRegistry(
  rules: Pick<RuleService, "rulesFingerprint" | "evaluatedSnapshot">,
  logger: Logger,
  compile: RuleCompiler,
  refreshMs = 0,
  lists?: ListCatalog,
) {
  let compiled: RuleEvaluator[] = [];
  let shadows: ShadowEvaluator[] = [];
  let fingerprint: string | undefined;
  let checkedAt = 0;
  let byKey = new Map<string, RuleEvaluator>();

  function evaluatorOf(rule: RuleDocument, version: number): RuleEvaluator | undefined {
    const kept = byKey.get(`${rule.id}@${version}`);
    if (kept) return kept;
    // Stored versions were validated when saved; re-checking guards against a hand-edited row.
    const v = validateRule(rule);
    if (!v.ok) {
      logger.error({ ruleId: rule.id, version, errors: v.errors }, "stored rule version is invalid; not evaluated");
      return undefined;
    }
    // Its `{ list }` values ask the catalog.
    return compileBound(compile, v.rule, version, lists, jsonRulesEnginesPerRule);
  }

  async function refresh(): Promise<void> {
    checkedAt = Date.now();
    if ((await rules.rulesFingerprint()) === fingerprint) return;
    // Changed: the rules, the shadows and the fingerprint they make, from one snapshot.
    const { fingerprint: fp, active, shadows: running } = await rules.evaluatedSnapshot();
    const listsHeld = (await lists?.sync([...new Set([...active, ...running].flatMap((r) => listRefs(r.rule.conditions).map((l) => l.list)))])) ?? true;
    const next: RuleEvaluator[] = [];
    for (const { rule, version } of active) {
      const e = evaluatorOf(rule, version);
      if (e) next.push(e);
    }
    const nextShadows: ShadowEvaluator[] = [];
    for (const s of running) {
      const e = evaluatorOf(s.rule, s.version);
      if (e) nextShadows.push({ shadowId: s.shadowId, endsAt: s.endsAt?.getTime() ?? null, evaluator: e });
    }
    compiled = next;
    shadows = nextShadows;
    byKey = new Map([...next, ...nextShadows.map((s) => s.evaluator)].map((c) => [`${c.rule.id}@${c.version}`, c]));
    // A list that could not be read whole is tried again at the next batch.
    fingerprint = listsHeld ? fp : undefined;
    logger.info({ rules: compiled.map((c) => `${c.rule.id}@${c.version}`), shadows: shadows.map((s) => `${s.evaluator.rule.id}@${s.evaluator.version}`) }, "rules loaded");
  }

  return {
    refresh,
    /** The current rules, re-read from the database when the last check is older than refreshMs. */
    async current(now = Date.now()): Promise<RuleEvaluator[]> {
      if (fingerprint === undefined || now - checkedAt >= refreshMs) await refresh();
      return compiled;
    },
    /** The running shadows as of the last current(). */
    shadows(): ShadowEvaluator[] {
      return shadows;
    },
  };
}

export type RuleRegistry = ReturnType<typeof createRuleRegistry>;
