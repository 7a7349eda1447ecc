// Per-account daily figures of a generated scenario, summarized by population: what the policy
// pack's thresholds are chosen from (each rule's description cites them). Keeps one small record
// per account-day.
import type { UsageEventInput } from "../../src/features/events/event-schemas";
import type { TruthRecord } from "./scenario-generator";

type Day = { requests: number; input: number; output: number; reasoning: number; synthetic: number; jailbreak: number; countries: Set<string>; ips: Set<string>; templates: Map<string, number> };

const measures = {
  requests: (d: Day) => d.requests,
  outputTokens: (d: Day) => d.output,
  inputTokens: (d: Day) => d.input,
  "reasoningTraceRequest>=0.7": (d: Day) => d.reasoning / d.requests,
  "syntheticDataRequest": (d: Day) => d.synthetic / d.requests,
  "jailbreakAttempt>=0.8": (d: Day) => d.jailbreak / d.requests,
  topTemplateShare: (d: Day) => Math.max(0, ...d.templates.values()) / d.requests,
  distinctCountries: (d: Day) => d.countries.size,
  distinctIps: (d: Day) => d.ips.size,
};

const signal = (e: UsageEventInput, name: string, threshold: number) => {
  const v = e.signals?.[name];
  return v === true || (typeof v === "number" && v >= threshold);
};

export class DailyStats {
  private readonly days = new Map<string, Day>();
  private readonly populationOf: Map<string, string>;

  constructor(truth: TruthRecord[]) {
    this.populationOf = new Map(truth.map((t) => [t.accountId, t.population]));
  }

  add(e: UsageEventInput): void {
    const key = `${e.accountId}|${e.occurredAt.slice(0, 10)}`;
    let d = this.days.get(key);
    if (!d) {
      d = { requests: 0, input: 0, output: 0, reasoning: 0, synthetic: 0, jailbreak: 0, countries: new Set(), ips: new Set(), templates: new Map() };
      this.days.set(key, d);
    }
    d.requests++;
    d.input += e.inputTokens;
    d.output += e.outputTokens;
    if (signal(e, "reasoningTraceRequest", 0.7)) d.reasoning++;
    if (signal(e, "syntheticDataRequest", 0.5)) d.synthetic++;
    if (signal(e, "jailbreakAttempt", 0.8)) d.jailbreak++;
    if (e.country) d.countries.add(e.country);
    if (e.ip) d.ips.add(e.ip);
    if (e.promptTemplateHash) d.templates.set(e.promptTemplateHash, (d.templates.get(e.promptTemplateHash) ?? 0) + 1);
  }

  /** For each population and measure: p50 / p95 / max over the account-days with at least 20 requests. */
  summary(): Record<string, Record<string, { p50: number; p95: number; max: number }>> {
    const byPopulation = new Map<string, Day[]>();
    for (const [key, d] of this.days) {
      if (d.requests < 20) continue;
      const population = this.populationOf.get(key.split("|")[0]!) ?? "unknown";
      byPopulation.set(population, [...(byPopulation.get(population) ?? []), d]);
    }
    const out: ReturnType<DailyStats["summary"]> = {};
    for (const [population, days] of [...byPopulation].sort()) {
      out[population] = {};
      for (const [name, f] of Object.entries(measures)) {
        const values = days.map(f).sort((a, b) => a - b);
        const q = (p: number) => values[Math.min(values.length - 1, Math.floor(p * values.length))]!;
        out[population][name] = { p50: q(0.5), p95: q(0.95), max: values[values.length - 1]! };
      }
    }
    return out;
  }

  report(): string {
    const fmt = (v: number) => (v < 1 && v > 0 ? v.toFixed(2) : Math.round(v).toLocaleString("en-US"));
    const lines = ["per account-day (days with >= 20 requests): p50 / p95 / max"];
    for (const [population, m] of Object.entries(this.summary())) {
      lines.push(`${population}:`);
      for (const [name, s] of Object.entries(m)) lines.push(`  ${name.padEnd(28)} ${fmt(s.p50)} / ${fmt(s.p95)} / ${fmt(s.max)}`);
    }
    return lines.join("\n");
  }
}
