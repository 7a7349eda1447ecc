// Scores the policy pack against a scenario's ground truth: for each rule, the accounts it opened
// a case for against the accounts whose pattern it is meant to catch. Shared by `npm run
// eval:policy` and the test that keeps the pack's thresholds honest.
import type { Pattern, TruthRecord } from "./scenario-generator";

/** The patterns each rule of the default pack is meant to catch. A rule not listed is reported without a target. */
export const ruleTargets: Record<string, Pattern[]> = {
  "distillation.reasoning-trace-volume": ["reasoning-extraction"],
  "distillation.reasoning-trace-cluster": ["hydra-reasoning"],
  "distillation.synthetic-data-volume": ["synthetic-data-generation"],
  "extraction.dataset-sweep": ["dataset-sweep"],
  "distillation.output-heavy-single-turn": ["reasoning-extraction", "synthetic-data-generation", "dataset-sweep"],
  "accounts.hydra-cluster": ["hydra-reasoning", "hydra-synthetic"],
  "accounts.ban-evasion": ["ban-evasion"],
  "accounts.sharing-resale": ["account-sharing"],
  "abuse.rate-limit-evasion": ["rate-limit-evasion"],
  "abuse.jailbreak-volume": ["jailbreak"],
  "access.unsupported-region": ["unsupported-region"],
  "distillation.new-model-rush": ["new-model-distillation"],
  // Supplementary rules: they catch part of a pattern by design (one large request, an extreme day).
  "extraction.synthetic-data-request": ["synthetic-data-generation", "hydra-synthetic"],
  "distillation.output-volume": ["reasoning-extraction", "synthetic-data-generation", "dataset-sweep"],
};

/** Rules whose recall is not a target: they flag single requests or extreme days of a pattern another rule covers. */
export const supplementaryRules = new Set(["extraction.synthetic-data-request", "distillation.output-volume"]);

/** Rules that must never flag a legitimate heavy user. */
export const distillationRules = Object.keys(ruleTargets).filter((id) => id.startsWith("distillation.") || id === "extraction.dataset-sweep" || id === "accounts.hydra-cluster");

export type RuleScore = {
  ruleId: string;
  targets: Pattern[];
  flagged: number;
  truePositives: number;
  targetAccounts: number;
  precision: number;
  recall: number;
  falsePositives: { accountId: string; population: string; pattern: string | null }[];
};

export function scorePolicy(truth: TruthRecord[], flaggedByRule: Map<string, Set<string>>): { rules: RuleScore[]; overall: { precision: number; recall: number; flagged: number; violators: number } } {
  const byAccount = new Map(truth.map((t) => [t.accountId, t]));
  const rules: RuleScore[] = [];
  for (const [ruleId, targets] of Object.entries(ruleTargets)) {
    const flagged = flaggedByRule.get(ruleId) ?? new Set<string>();
    const isTarget = (id: string) => targets.includes(byAccount.get(id)?.pattern as Pattern);
    const targetAccounts = truth.filter((t) => isTarget(t.accountId)).length;
    const truePositives = [...flagged].filter(isTarget).length;
    rules.push({
      ruleId,
      targets,
      flagged: flagged.size,
      truePositives,
      targetAccounts,
      precision: flagged.size ? truePositives / flagged.size : 1,
      recall: targetAccounts ? truePositives / targetAccounts : 1,
      falsePositives: [...flagged]
        .filter((id) => !isTarget(id))
        .map((id) => ({ accountId: id, population: byAccount.get(id)?.population ?? "unknown", pattern: byAccount.get(id)?.pattern ?? null })),
    });
  }
  // Overall: an account flagged by any rule, against the accounts behind any pattern.
  const any = new Set([...flaggedByRule.values()].flatMap((s) => [...s]));
  const violators = truth.filter((t) => t.pattern !== null);
  const caught = violators.filter((t) => any.has(t.accountId)).length;
  const flaggedViolators = [...any].filter((id) => byAccount.get(id)?.pattern).length;
  return {
    rules,
    overall: { precision: any.size ? flaggedViolators / any.size : 1, recall: violators.length ? caught / violators.length : 1, flagged: any.size, violators: violators.length },
  };
}

export function formatScores(score: ReturnType<typeof scorePolicy>): string {
  const pct = (x: number) => x.toFixed(2);
  const lines = ["| rule | catches | flagged | precision | recall | false positives (population) |", "| --- | --- | --- | --- | --- | --- |"];
  for (const r of score.rules) {
    const fps = Object.entries(
      r.falsePositives.reduce<Record<string, number>>((m, f) => ({ ...m, [f.population]: (m[f.population] ?? 0) + 1 }), {}),
    ).map(([p, n]) => `${n} ${p}`);
    const recall = supplementaryRules.has(r.ruleId) ? `${pct(r.recall)} (supplementary)` : pct(r.recall);
    lines.push(`| ${r.ruleId} | ${r.targets.join(", ")} | ${r.flagged} | ${pct(r.precision)} | ${recall} | ${fps.join(", ") || "none"} |`);
  }
  lines.push(`| **any rule** | any pattern | ${score.overall.flagged} | ${pct(score.overall.precision)} | ${pct(score.overall.recall)} | |`);
  return lines.join("\n");
}
