// npm run bench:evaluator -- [--facts 2000] [--seconds 5] [--evaluator both|compiled|json-rules-engine]
// The evaluators' own cost: the policy pack's rules judged over --facts generated fact sets held
// in memory (constant facts, no database), one evaluation at a time for --seconds per evaluator;
// prints evaluations/s for each, and their hits, which must be equal.
import os from "node:os";
import path from "node:path";
import { type AccountFact, type EvaluatorKind, type FactSource, evaluatorKinds } from "../src/engine/evaluation";
import { factCatalog, factNames } from "../src/engine/fact-catalog";
import { ruleCompiler } from "../src/engine/rule-compiler";
import { loadRuleFiles } from "../src/features/rules/rule-files";
import { makeEvent, oneOf, pickAccount, scriptOptions, wholeNumber } from "./bench-support";

const args = scriptOptions("bench:evaluator", {
  facts: { type: "string", default: "2000" },
  seconds: { type: "string", default: "5" },
  evaluator: { type: "string", default: "both" },
});

/** Largest value of each number fact, so that the pack's thresholds are crossed now and then. */
const ranges: Record<string, number> = {
  requestCount: 20_000,
  inputTokens: 5_000_000,
  outputTokens: 5_000_000,
  peakRequestsPerMinute: 500,
  linkedAccounts: 10,
  linkedSuspendedAccounts: 3,
  clusterRequestCount: 50_000,
  clusterOutputTokens: 20_000_000,
};

/** Deterministic fact values for set `i`: the same sets for every evaluator. */
function factSource(i: number, start: number): FactSource {
  let seed = (i + 1) * 2654435761;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const numbers = new Map<string, number>();
  for (const name of factNames) {
    if (factCatalog[name]!.objectValued) continue;
    // Counts and tokens are whole numbers up to their range; shares and rates lie in 0..1.
    numbers.set(name, ranges[name] !== undefined ? Math.floor(random() * ranges[name]!) : name.startsWith("distinct") ? Math.floor(random() * 20) : random());
  }
  const input = makeEvent(i, pickAccount(i, 1000), start + i * 1000);
  const event = { ...input, eventId: `e${i}` };
  const account: AccountFact = {
    status: random() < 0.1 ? "suspended" : "active",
    firstSeenAt: "2026-10-01T00:00:00Z",
    createdAt: null,
    ageDays: Math.floor(random() * 60),
    ageSource: "firstSeen",
    ageKnown: false,
    verification: null,
    plan: null,
    confirmedCases: 0,
  };
  const ids = [event.eventId];
  return {
    event,
    account: () => Promise.resolve(account),
    windowAggregate: (name) => Promise.resolve(numbers.get(name)!),
    linkedFact: (name) => Promise.resolve(numbers.get(name)!),
    contributingEventIds: () => Promise.resolve(ids),
  };
}

async function measure(kind: EvaluatorKind, sources: FactSource[], seconds: number): Promise<{ perSecond: number; hits: number }> {
  const compile = ruleCompiler(kind);
  const rules = loadRuleFiles(path.resolve(__dirname, "../rules")).map(({ rule }) => compile(rule, 1));
  let hits = 0;
  // One pass over every set counts the hits (and warms up); then the clock runs.
  for (const source of sources) for (const rule of rules) if ((await rule.evaluate(source)).outcome === "hit") hits++;
  let evaluations = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  while (performance.now() < until) {
    for (const source of sources) for (const rule of rules) await rule.evaluate(source);
    evaluations += sources.length * rules.length;
  }
  return { perSecond: evaluations / ((performance.now() - started) / 1000), hits };
}

async function main(): Promise<void> {
  const count = wholeNumber("facts", args.facts, 1, 1_000_000);
  const seconds = wholeNumber("seconds", args.seconds, 1, 600);
  const choice = oneOf("evaluator", args.evaluator, ["both", ...evaluatorKinds]);
  const kinds = choice === "both" ? evaluatorKinds : [choice];
  const start = Date.parse("2026-11-24T00:00:00Z");
  const sources = Array.from({ length: count }, (_, i) => factSource(i, start));
  console.log(`ClauseGuard evaluator bench: policy pack over ${count} fact sets, ${seconds} s each, Node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? "?"}`);
  for (const kind of kinds) {
    const r = await measure(kind, sources, seconds);
    console.log(`${kind}: ${Math.round(r.perSecond).toLocaleString("en-US")} evaluations/s (${r.hits} hits in one pass)`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
