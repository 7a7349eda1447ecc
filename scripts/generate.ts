// npm run generate -- --accounts 10000 --days 7 --seed 1 --out scenario.ndjson [--truth file] [--start ISO] [--stats] [--ring-accounts 20000 --ring-prefixes 400] [--fresh-install] [--provider-ages]
// Writes a scenario's usage events (NDJSON, time order, streamed) and its ground truth (JSON, one
// record per account: population, pattern or null). --stats prints, per population, the per-account
// daily figures the policy pack's thresholds were chosen from.
import fs from "node:fs";
import { generateEvents, planScenario, scenarioNetworks, truthOf } from "./scenarios/scenario-generator";
import { DailyStats } from "./scenarios/scenario-stats";
import { scenarioOptionDefinitions, scenarioOptions, scriptOptions } from "./bench-support";

const args = scriptOptions("generate", {
  accounts: { type: "string", default: "10000" },
  days: { type: "string", default: "7" },
  seed: { type: "string", default: "1" },
  start: { type: "string", default: "2026-11-02T00:00:00Z" },
  ...scenarioOptionDefinitions,
  out: { type: "string" },
  truth: { type: "string" },
  stats: { type: "boolean", default: false },
});

async function main(): Promise<void> {
  if (!args.out) {
    console.error("generate: --out <file.ndjson> is required");
    process.exit(2);
  }
  const opts = scenarioOptions(args);
  const plans = planScenario(opts);
  const truthFile = args.truth ?? args.out.replace(/\.ndjson$/, "") + ".truth.json";
  fs.writeFileSync(truthFile, JSON.stringify(truthOf(plans), null, 1));

  const out = fs.createWriteStream(args.out);
  const stats = args.stats ? new DailyStats(truthOf(plans)) : undefined;
  let n = 0;
  const began = Date.now();
  for (const event of generateEvents(plans, opts)) {
    stats?.add(event);
    if (!out.write(`${JSON.stringify(event)}\n`)) await new Promise<void>((r) => out.once("drain", () => r()));
    if (++n % 200_000 === 0) process.stderr.write(`  ${n} events\n`);
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  // The network lists its provider would import: copy them into the pack's links/ folder.
  const lists = Object.entries(scenarioNetworks(opts)).map(([name, prefixes]) => {
    const file = `${args.out!.replace(/\.ndjson$/, "")}.${name}.txt`;
    fs.writeFileSync(file, `${prefixes.join("\n")}\n`);
    return file;
  });
  console.log(`${n} events of ${plans.length} accounts over ${opts.days} days (seed ${opts.seed}) in ${((Date.now() - began) / 1000).toFixed(1)} s: ${args.out}, truth in ${truthFile}`);
  console.log(`network lists for rules/links/ (docs/linking.md): ${lists.join(", ")}`);
  if (stats) console.log(stats.report());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
