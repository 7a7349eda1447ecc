// A deterministic, streaming generator of realistic gateway traffic with a ground truth: which
// population (and which violation pattern, or none) is behind each account. Used to choose and
// check the default policy pack's thresholds (`npm run generate`, `npm run eval:policy`, the demo).
//
// Each account has its own random stream (seeded from the scenario seed and its index), and its
// events come out of a generator in time order; `generateEvents` merges the accounts' streams with
// a min-heap, so memory holds one pending event per account whatever the number of events.
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { UsageEventInput } from "../../src/features/events/event-schemas";

/** Every population the generator draws; the pattern is the violation behind it, or null for legitimate use. */
export const populations = {
  ordinary: null,
  "heavy-coding-agent": null,
  "heavy-batch-job": null,
  "heavy-chat-product": null,
  "data-labelling": null,
  /** Ordinary users behind a carrier-grade NAT: hundreds to a /24 (ipType cgnat). */
  "cgnat-user": null,
  /** Students of one campus, all signed up during the scenario, on the campus's ranges (a named network list). */
  "campus-student": null,
  "reasoning-extractor": "reasoning-extraction",
  "synthetic-data-extractor": "synthetic-data-generation",
  "dataset-sweeper": "dataset-sweep",
  "hydra-reasoning": "hydra-reasoning",
  "hydra-synthetic": "hydra-synthetic",
  /** One operation's many lightly used accounts behind a rotating proxy network (ScenarioOptions.ring). */
  "proxy-ring": "hydra-reasoning",
  reseller: "account-sharing",
  "banned-extractor": "reasoning-extraction",
  "ban-evader": "ban-evasion",
  "rate-limit-evader": "rate-limit-evasion",
  "jailbreak-campaign": "jailbreak",
  "unsupported-region": "unsupported-region",
  /**
   * An operation that moves its traffic to a model the day it is released (modelRelease): linked
   * established accounts on residential proxies, moderate use each, one pipeline's two templates,
   * no classifier signal. Published operations moved about half their traffic within a day.
   */
  "model-rush-operation": "new-model-distillation",
} as const satisfies Record<string, string | null>;

export type Population = keyof typeof populations;
export type Pattern = NonNullable<(typeof populations)[Population]>;

export type TruthRecord = {
  accountId: string;
  population: Population;
  pattern: Pattern | null;
  /** Accounts that act together (an office network, a team card, an operation). */
  group?: string;
  /** Suspended by the provider before the scenario starts (the accounts ban evaders come back from). */
  suspendedBeforeStart?: boolean;
};

export type ScenarioOptions = {
  accounts: number;
  days: number;
  seed: number;
  start: Date;
  /**
   * A distillation operation at the scale published ones run: `accounts` more accounts (on top of
   * the scenario's own), each lightly used, every request from one of `prefixes` proxy /24s at
   * random, so every account is linked to thousands of others through the network.
   */
  ring?: { accounts: number; prefixes: number };
  /** A fresh installation: no history before the scenario, so established accounts are first seen in it too. */
  freshInstall?: boolean;
  /** Events carry the provider's creation time of their account (accountCreatedAt, on each account's first event). */
  providerAges?: boolean;
};

/** Countries the provider does not serve in the default pack (rules/access.unsupported-region.json). */
export const unsupportedCountries = ["CN", "RU", "IR", "KP", "SY", "CU", "BY"];
const supportedCountries = ["US", "US", "US", "GB", "DE", "FR", "IN", "BR", "JP", "CA", "NL", "ES", "IT", "KR", "AU", "SG", "MX", "PL", "SE", "CH"];
const models = ["frontier-large", "frontier-mini", "frontier-reasoning"];
/** The model released during a scenario of at least 2 days, at the start of its middle day (modelRelease). */
export const newModel = "frontier-next";
/** When the scenario's new model is released: the start of day floor(days / 2); none in a one-day scenario. */
export function modelRelease(opts: Pick<ScenarioOptions, "start" | "days">): number | undefined {
  return opts.days >= 2 ? opts.start.getTime() + Math.floor(opts.days / 2) * 24 * 3_600_000 : undefined;
}
const hourMs = 3_600_000;
const dayMs = 24 * hourMs;

type Rng = () => number;

function rngFor(seed: number, index: number): Rng {
  const gen = xoroshiro128plus((seed ^ Math.imul(index + 1, 0x9e3779b1)) | 0);
  return () => uniformFloat64(gen);
}

const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(rng() * list.length)]!;
const chance = (rng: Rng, p: number) => rng() < p;
const round2 = (x: number) => Math.round(x * 100) / 100;

/** A /24 from the seed's own address plan: distinct per `n`, never a private or reserved range. */
const prefix24 = (kind: number, n: number) => `${11 + kind}.${(n >> 8) & 255}.${n & 255}`;

type AccountPlan = TruthRecord & {
  index: number;
  /** Established accounts were first seen long before the scenario (one earlier request). */
  signupAt?: number;
  country: string;
  ips: string[];
  ipType: NonNullable<UsageEventInput["ipType"]>;
  paymentFingerprint: string;
  orgId?: string;
  userAgent: string;
  /** Account-specific parameters chosen when the plan is made. */
  params: Record<string, number>;
  /** The account (or accounts) whose ban this one evades. */
  evades?: string;
  /** An operation's prompt templates, shared by its accounts (its pipeline's): most of their requests use one. */
  family?: string[];
};

/** Signals of an ordinary request: the classifier's background, with rare false positives. */
function backgroundSignals(rng: Rng): Record<string, number | boolean> {
  return {
    reasoningTraceRequest: chance(rng, 0.03) ? round2(0.7 + rng() * 0.25) : round2(rng() ** 3 * 0.6),
    syntheticDataRequest: chance(rng, 0.01),
    jailbreakAttempt: chance(rng, 0.005) ? round2(0.8 + rng() * 0.19) : round2(rng() ** 6 * 0.5),
  };
}

/** `n` sorted moments in the day starting at `dayStart`, clustered around `centerHour` (local activity hours). */
function momentsInDay(rng: Rng, dayStart: number, n: number, centerHour: number, spreadHours: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const offset = (rng() + rng() + rng() - 1.5) * spreadHours; // roughly bell-shaped
    const h = (((centerHour + offset) % 24) + 24) % 24;
    out.push(dayStart + Math.floor(h * hourMs));
  }
  return out.sort((a, b) => a - b);
}

/** `n` sorted moments in one burst of `minutes` starting at `from`. */
function burst(rng: Rng, from: number, n: number, minutes: number): number[] {
  const out = Array.from({ length: n }, () => from + Math.floor(rng() * minutes * 60_000));
  return out.sort((a, b) => a - b);
}

type Draft = Omit<UsageEventInput, "eventId" | "occurredAt" | "accountId">;

/** The plan of every account: population, identity, links. Small (one record per account). */
export function planScenario(opts: ScenarioOptions): AccountPlan[] {
  const { accounts: n, seed } = opts;
  const rng = rngFor(seed, -1);
  const start = opts.start.getTime();
  const plans: AccountPlan[] = [];
  const atLeast = (share: number, min: number) => Math.max(min, Math.round(n * share));
  let prefixes = 0;
  let cards = 0;

  const add = (population: Population, extra: Partial<AccountPlan> = {}) => {
    const index = plans.length;
    const r = rngFor(seed, index + 1_000_000);
    const plan: AccountPlan = {
      index,
      accountId: `acct_${seed}_${String(index).padStart(6, "0")}`,
      population,
      pattern: populations[population],
      signupAt: start - int(r, 20, 400) * dayMs - int(r, 0, 23) * hourMs,
      country: pick(r, supportedCountries),
      ips: [`${prefix24(0, prefixes++)}.${int(r, 2, 250)}`],
      ipType: "residential",
      paymentFingerprint: `pmfp_${seed}_${cards++}`,
      userAgent: pick(r, ["Mozilla/5.0", "openai-python/1.54", "anthropic-sdk-ts/0.30", "curl/8.5", "python-httpx/0.27"]),
      params: {},
      ...extra,
    };
    plans.push(plan);
    return plan;
  };

  // Dedicated hosting prefixes shared by legitimate cloud workloads (a big provider's NAT ranges).
  const cloudPrefixes = Array.from({ length: 8 }, () => prefix24(1, prefixes++));
  const cloudIp = (r: Rng) => `${pick(r, cloudPrefixes)}.${int(r, 2, 250)}`;
  /** An operation's prompt templates: its accounts run one pipeline. */
  const family = (name: string) => Array.from({ length: 3 }, (_, k) => `tpl_${seed}_${name}_${k}`);

  // Extractors, operations and the other patterns first, so that their share holds at any size.
  for (let i = 0; i < atLeast(0.002, 2); i++) add("reasoning-extractor", { ipType: "hosting" });
  for (let i = 0; i < atLeast(0.002, 2); i++) add("synthetic-data-extractor", { ipType: "hosting" });
  for (let i = 0; i < atLeast(0.0015, 2); i++) add("dataset-sweeper", { ipType: "hosting" });
  for (let op = 0; op < Math.max(1, Math.round(n / 3500)); op++) {
    for (const population of ["hydra-reasoning", "hydra-synthetic"] as const) {
      const size = int(rng, 30, 50);
      const opPrefixes = Array.from({ length: int(rng, 2, 4) }, () => prefix24(2, prefixes++));
      const opCards = Array.from({ length: int(rng, 3, 6) }, () => `pmfp_${seed}_${cards++}`);
      const firstDay = int(rng, 0, Math.max(0, opts.days - 3));
      const templates = family(`${population}-${op}`);
      for (let k = 0; k < size; k++) {
        add(population, {
          group: `${population}-${op}`,
          family: templates,
          signupAt: undefined,
          ipType: pick(rng, ["hosting", "proxy"] as const),
          ips: [`${pick(rng, opPrefixes)}.${int(rng, 2, 250)}`, `${pick(rng, opPrefixes)}.${int(rng, 2, 250)}`],
          paymentFingerprint: pick(rng, opCards),
          params: { firstDay },
        });
      }
    }
  }
  for (let op = 0; op < Math.max(1, Math.round(n / 5000)); op++) {
    const opPrefixes = Array.from({ length: int(rng, 2, 3) }, () => prefix24(9, prefixes++));
    const opCards = Array.from({ length: int(rng, 3, 5) }, () => `pmfp_${seed}_${cards++}`);
    const pipeline = Array.from({ length: 2 }, (_, k) => `tpl_${seed}_model-rush-${op}_${k}`);
    for (let k = 0, size = int(rng, 15, 25); k < size; k++) {
      add("model-rush-operation", {
        group: `model-rush-${op}`,
        family: pipeline,
        ipType: "residential",
        ips: [`${pick(rng, opPrefixes)}.${int(rng, 2, 250)}`, `${pick(rng, opPrefixes)}.${int(rng, 2, 250)}`],
        paymentFingerprint: pick(rng, opCards),
      });
    }
  }
  for (let i = 0; i < atLeast(0.003, 2); i++) add("reseller");
  for (let i = 0; i < atLeast(0.0015, 2); i++) {
    const templates = family(`ban-${i}`);
    const banned = add("banned-extractor", { ipType: "hosting", ips: [`${prefix24(3, prefixes++)}.${int(rng, 2, 250)}`], suspendedBeforeStart: true, family: templates });
    const sameCard = chance(rng, 0.5);
    add("ban-evader", {
      family: templates,
      evades: banned.accountId,
      signupAt: undefined,
      ipType: "hosting",
      paymentFingerprint: sameCard ? banned.paymentFingerprint : `pmfp_${seed}_${cards++}`,
      ips: [sameCard ? `${prefix24(0, prefixes++)}.${int(rng, 2, 250)}` : `${banned.ips[0]!.split(".").slice(0, 3).join(".")}.${int(rng, 2, 250)}`],
    });
  }
  for (let g = 0; g < Math.max(1, Math.round(n / 2500)); g++) {
    const prefix = prefix24(4, prefixes++);
    const card = `pmfp_${seed}_${cards++}`;
    const templates = family(`rate-limit-${g}`);
    for (let k = 0, size = int(rng, 4, 6); k < size; k++) {
      add("rate-limit-evader", { group: `rate-limit-${g}`, family: templates, ipType: "hosting", ips: [`${prefix}.${int(rng, 2, 250)}`], paymentFingerprint: chance(rng, 0.5) ? card : `pmfp_${seed}_${cards++}` });
    }
  }
  for (let i = 0; i < atLeast(0.004, 2); i++) add("jailbreak-campaign");
  for (let i = 0; i < atLeast(0.003, 2); i++) add("unsupported-region", { country: pick(rng, unsupportedCountries), ipType: pick(rng, ["hosting", "residential"] as const) });

  // Legitimate heavy users: some in shared cloud ranges (linked by network, innocently).
  for (let i = 0; i < atLeast(0.003, 2); i++) add("heavy-coding-agent", { ipType: "cloud", ips: [cloudIp(rng), cloudIp(rng)] });
  for (let i = 0; i < atLeast(0.002, 2); i++) add("heavy-batch-job", { ipType: "cloud", ips: [cloudIp(rng)] });
  for (let i = 0; i < atLeast(0.002, 2); i++) add("heavy-chat-product", { ipType: "cloud", ips: [cloudIp(rng), cloudIp(rng), cloudIp(rng)] });
  for (let i = 0; i < atLeast(0.005, 2); i++) add("data-labelling");
  // A carrier-grade NAT: a few /24s, hundreds of ordinary subscribers behind each.
  const cgnat = Array.from({ length: Math.max(1, Math.round(n / 4000)) }, () => prefix24(1, prefixes++));
  for (let i = 0; i < atLeast(0.12, 20); i++) {
    add("cgnat-user", { group: "cgnat", ipType: "cgnat", ips: [`${pick(rng, cgnat)}.${int(rng, 2, 250)}`], ...(chance(rng, 0.1) ? { signupAt: undefined } : {}) });
  }
  // A campus whose students all signed up this week, on the campus's own ranges: the gateway
  // calls them residential; the provider lists the ranges (scenarioNetworks).
  const campus = campusPrefixes(n);
  for (let i = 0; i < atLeast(0.03, 15); i++) {
    add("campus-student", { group: "campus", signupAt: undefined, ips: [`${pick(rng, campus)}.${int(rng, 2, 250)}`, `${pick(rng, campus)}.${int(rng, 2, 250)}`] });
  }

  // Ordinary users fill the rest: office networks (one /24 for 8-20 people) and team cards as noise.
  while (plans.length < n) {
    const kind = rng();
    if (kind < 0.05) {
      const prefix = prefix24(5, prefixes++);
      const org = `org_${seed}_${plans.length}`;
      for (let k = 0, size = int(rng, 8, 20); k < size && plans.length < n; k++) {
        add("ordinary", { group: `office-${prefix}`, orgId: org, ips: [`${prefix}.${int(rng, 2, 250)}`] });
      }
    } else if (kind < 0.1) {
      const card = `pmfp_${seed}_${cards++}`;
      for (let k = 0, size = int(rng, 3, 8); k < size && plans.length < n; k++) add("ordinary", { group: `team-${card}`, paymentFingerprint: card });
    } else {
      // One in ten ordinary accounts signed up during the scenario.
      const fresh = chance(rng, 0.1);
      add("ordinary", fresh ? { signupAt: undefined } : {});
    }
  }
  // The ring last, on top of the scenario's own accounts: those stay exactly as without it.
  if (opts.ring && opts.ring.accounts > 0) {
    const ringCards = Math.max(1, Math.round(opts.ring.accounts / 100));
    const firstCard = cards;
    cards += ringCards;
    const firstPrefix = prefixes;
    prefixes += opts.ring.prefixes;
    const ringTemplates = family("proxy-ring");
    for (let k = 0; k < opts.ring.accounts; k++) {
      add("proxy-ring", {
        group: "proxy-ring",
        signupAt: undefined,
        ipType: "proxy",
        family: ringTemplates,
        ips: [], // each request draws its own address from the ring's prefixes (accountEvents)
        paymentFingerprint: `pmfp_${seed}_${firstCard + (k % ringCards)}`,
        params: { firstPrefix, prefixCount: opts.ring.prefixes },
      });
    }
  }
  return plans;
}

/** The campus's /24s (without the last octet): their own part of the address plan. */
const campusPrefixes = (accounts: number) => Array.from({ length: Math.max(1, Math.round(accounts / 5000)) }, (_, i) => prefix24(8, i));

/**
 * The network lists a provider would import for this scenario (rules/links/<name>.txt): the
 * campus's ranges. The cloud and carrier ranges carry their ipType instead.
 */
export function scenarioNetworks(opts: Pick<ScenarioOptions, "accounts">): Record<string, string[]> {
  return { campus: campusPrefixes(opts.accounts).map((p) => `${p}.0/24`) };
}

/** An account's events, the first carrying the provider's creation time: its signup, or its first request for an account new in the scenario. */
function* withProviderAge(plan: AccountPlan, events: Generator<UsageEventInput>): Generator<UsageEventInput> {
  let first = true;
  for (const e of events) {
    yield first ? { ...e, accountCreatedAt: new Date(plan.signupAt ?? Date.parse(e.occurredAt)).toISOString() } : e;
    first = false;
  }
}

/** The events of one account, in time order. */
function* accountEvents(plan: AccountPlan, opts: ScenarioOptions): Generator<UsageEventInput> {
  const rng = rngFor(opts.seed, plan.index);
  const start = opts.start.getTime();
  let seq = 0;
  const tz = int(rng, 0, 23); // the account's own daytime, as an hour offset
  const templates = Array.from({ length: 8 }, (_, k) => `tpl_${plan.accountId}_${k}`);
  // Who moves to the new model, from when, with what share of requests: drawn from streams of
  // their own, so the rest of every account's stream is the same with or without a release.
  const adoption = adoptionOf(plan, opts);
  const adoptRng = rngFor(opts.seed, 5_000_000 + plan.index);
  const modelAt = (at: number, model: string) => (adoption && at >= adoption.from && adoptRng() < adoption.share ? newModel : model);
  const make = (at: number, d: Draft): UsageEventInput => ({
    eventId: `evt_${plan.accountId}_${seq++}`,
    occurredAt: new Date(at).toISOString(),
    accountId: plan.accountId,
    ...(plan.orgId ? { orgId: plan.orgId } : {}),
    apiKeyId: `key_${plan.accountId}`,
    endpoint: "chat.completions",
    ip: pick(rng, plan.ips),
    ipType: plan.ipType,
    country: plan.country,
    userAgent: plan.userAgent,
    paymentFingerprint: plan.paymentFingerprint,
    ...d,
    model: modelAt(at, d.model),
  });
  /** A request's template: mostly one of its operation's, when it belongs to one; else its own. */
  const ownTemplate = () => (plan.family && chance(rng, 0.7) ? pick(rng, plan.family) : `tpl_${plan.accountId}_u${int(rng, 0, 999_999)}`);
  const ordinaryDraft = (): Draft => ({
    model: pick(rng, models),
    inputTokens: int(rng, 50, 2500),
    outputTokens: int(rng, 50, 1200),
    promptTemplateHash: ownTemplate(),
    signals: backgroundSignals(rng),
  });
  const extractionDraft = (signals: Record<string, number | boolean>, template?: string): Draft => ({
    model: pick(rng, ["frontier-large", "frontier-reasoning"]),
    inputTokens: int(rng, 80, 600),
    outputTokens: int(rng, 1500, 4000),
    promptTemplateHash: template ?? ownTemplate(),
    signals,
  });

  // The request that made an established account known before the scenario (none on a fresh
  // installation; drawn all the same, so that the rest of the account's stream is unchanged).
  const history = plan.signupAt !== undefined ? make(plan.signupAt, ordinaryDraft()) : undefined;
  if (history && !opts.freshInstall) yield history;

  const days = opts.days;
  const eachDay = function* (activeShare: number, perDay: () => number, center: number, spread: number, draft: () => Draft, dayFrom = 0, dayTo = days) {
    // Every account is active on at least one day of its period, whatever its share.
    const sure = int(rng, dayFrom, dayTo - 1);
    for (let d = dayFrom; d < dayTo; d++) {
      if (d !== sure && !chance(rng, activeShare)) continue;
      for (const at of momentsInDay(rng, start + d * dayMs, perDay(), center, spread)) yield make(at, draft());
    }
  };

  switch (plan.population) {
    case "ordinary":
    case "cgnat-user":
      yield* eachDay(rng() * 0.6 + 0.3, () => int(rng, 1, 35), tz, 4, ordinaryDraft);
      return;
    case "campus-student":
      // Studying with the model: more and longer answers than most, every day of term.
      yield* eachDay(0.8, () => int(rng, 20, 60), tz, 5, () => ({ ...ordinaryDraft(), outputTokens: int(rng, 300, 1500) }));
      return;
    case "heavy-coding-agent":
      // Long inputs (the repository in context), short outputs, bursts through the working day.
      yield* eachDay(0.85, () => int(rng, 300, 800), tz, 3, () => ({
        ...ordinaryDraft(),
        model: pick(rng, ["frontier-large", "frontier-reasoning"]),
        inputTokens: int(rng, 15_000, 90_000),
        outputTokens: int(rng, 150, 2500),
        promptTemplateHash: pick(rng, templates.slice(0, 5)),
        signals: { ...backgroundSignals(rng), reasoningTraceRequest: round2(rng() * 0.75) },
      }));
      return;
    case "heavy-batch-job":
      // Nightly classification runs: one template, many requests, tiny outputs.
      for (let d = 0; d < days; d++) {
        if (!chance(rng, 0.5)) continue;
        const from = start + d * dayMs + int(rng, 0, 4) * hourMs;
        for (const at of burst(rng, from, int(rng, 1500, 3000), int(rng, 120, 240))) {
          yield make(at, { model: "frontier-mini", inputTokens: int(rng, 200, 1500), outputTokens: int(rng, 5, 120), promptTemplateHash: chance(rng, 0.92) ? templates[0]! : pick(rng, templates), signals: backgroundSignals(rng) });
        }
      }
      return;
    case "heavy-chat-product":
      // A product built on the API: conversation history in, answers out, its own end users.
      yield* eachDay(1, () => int(rng, 600, 1400), tz, 6, () => ({
        ...ordinaryDraft(),
        inputTokens: int(rng, 1500, 7000),
        outputTokens: int(rng, 150, 1100),
        endUserId: `u_${int(rng, 1, 5000)}`,
        promptTemplateHash: pick(rng, templates),
        signals: { ...backgroundSignals(rng), reasoningTraceRequest: chance(rng, 0.15) ? round2(0.7 + rng() * 0.29) : round2(rng() * 0.5) },
      }));
      return;
    case "data-labelling":
      // Asks for structured output (the classifier often says "synthetic data"), but labels are short.
      yield* eachDay(0.8, () => int(rng, 250, 700), tz, 4, () => ({
        model: pick(rng, models),
        inputTokens: int(rng, 400, 2500),
        outputTokens: int(rng, 40, 400),
        promptTemplateHash: pick(rng, templates.slice(0, 3)),
        signals: { ...backgroundSignals(rng), syntheticDataRequest: chance(rng, 0.6) },
      }));
      return;
    case "reasoning-extractor":
    case "banned-extractor": {
      const [from, to] = plan.population === "banned-extractor" ? [-6, -1] : [0, days];
      yield* eachDay(0.9, () => int(rng, 700, 1500), tz, 8, () =>
        extractionDraft({ ...backgroundSignals(rng), reasoningTraceRequest: chance(rng, 0.75) ? round2(0.75 + rng() * 0.24) : round2(rng() * 0.6) }),
        from, to);
      return;
    }
    case "synthetic-data-extractor":
      yield* eachDay(0.9, () => int(rng, 700, 1500), tz, 8, () => extractionDraft({ ...backgroundSignals(rng), syntheticDataRequest: chance(rng, 0.8) }));
      return;
    case "dataset-sweeper":
      // One template walked over a dataset, long answers.
      yield* eachDay(0.9, () => int(rng, 1200, 2200), tz, 8, () =>
        extractionDraft({ ...backgroundSignals(rng), reasoningTraceRequest: round2(0.3 + rng() * 0.35) }, chance(rng, 0.95) ? templates[0]! : undefined));
      return;
    case "hydra-reasoning":
    case "hydra-synthetic": {
      // Each account light (a few hundred requests over 2-3 days), the operation heavy.
      const first = plan.params.firstDay ?? 0;
      const activeDays = Math.min(3, days - first);
      const perDay = Math.ceil(int(rng, 150, 400) / activeDays);
      const signals = () =>
        plan.population === "hydra-reasoning"
          ? { ...backgroundSignals(rng), reasoningTraceRequest: chance(rng, 0.8) ? round2(0.75 + rng() * 0.24) : round2(rng() * 0.6) }
          : { ...backgroundSignals(rng), syntheticDataRequest: chance(rng, 0.8) };
      yield* eachDay(1, () => perDay, tz, 10, () => extractionDraft(signals()), first, first + activeDays);
      return;
    }
    case "proxy-ring": {
      // A handful of requests over the period, each through another proxy of the ring, most asking
      // for reasoning traces: nothing about one account stands out, the ring as a whole does.
      const proxyIp = () => `${prefix24(7, plan.params.firstPrefix! + int(rng, 0, plan.params.prefixCount! - 1))}.${int(rng, 2, 250)}`;
      const total = int(rng, 5, 14);
      const moments = Array.from({ length: total }, () => start + Math.floor(rng() * days * dayMs)).sort((a, b) => a - b);
      for (const at of moments) {
        yield make(at, {
          ...extractionDraft({ ...backgroundSignals(rng), reasoningTraceRequest: chance(rng, 0.8) ? round2(0.75 + rng() * 0.24) : round2(rng() * 0.6) }),
          ip: proxyIp(),
        });
      }
      return;
    }
    case "reseller": {
      // One account, many people: requests from many countries and addresses each day.
      const countries = Array.from({ length: int(rng, 5, 9) }, () => pick(rng, supportedCountries));
      yield* eachDay(0.95, () => int(rng, 250, 700), tz, 10, () => ({
        ...ordinaryDraft(),
        country: pick(rng, countries),
        ip: `${prefix24(6, int(rng, 0, 60_000))}.${int(rng, 2, 250)}`,
        ipType: pick(rng, ["residential", "vpn", "proxy"] as const),
        endUserId: `u_${int(rng, 1, 400)}`,
      }));
      return;
    }
    case "ban-evader":
      yield* eachDay(0.9, () => int(rng, 100, 400), tz, 6, ordinaryDraft, Math.min(1, days - 1));
      return;
    case "rate-limit-evader": {
      // The group fires together: each account near its own limit, the group far above it.
      const groupNo = Number(plan.group?.split("-").pop() ?? 0);
      const sureDay = int(rngFor(opts.seed, 3_000_000 + groupNo), 0, days - 1);
      for (let d = 0; d < days; d++) {
        // The group's own stream for the day: every member is active (or not) in the same hour.
        const groupRng = rngFor(opts.seed, 2_000_000 + d * 1000 + groupNo);
        if (!chance(groupRng, 0.7) && d !== sureDay) continue;
        const from = start + d * dayMs + int(groupRng, 8, 18) * hourMs;
        for (const at of burst(rng, from, int(rng, 2200, 2800), 60)) {
          yield make(at, { ...ordinaryDraft(), inputTokens: int(rng, 800, 3000), outputTokens: int(rng, 100, 900) });
        }
      }
      return;
    }
    case "jailbreak-campaign":
      yield* eachDay(0.8, () => int(rng, 80, 300), tz, 6, () => ({
        ...ordinaryDraft(),
        signals: { ...backgroundSignals(rng), jailbreakAttempt: chance(rng, 0.55) ? round2(0.8 + rng() * 0.19) : round2(rng() * 0.5) },
      }));
      return;
    case "unsupported-region":
      yield* eachDay(0.8, () => int(rng, 5, 60), tz, 4, ordinaryDraft);
      return;
    case "model-rush-operation": {
      // Each account moderate, ordinary-looking outputs and signals; one pipeline's two templates.
      // Busy some days before the release, every day from it (the rush is the operation's point).
      const draft = (): Draft => ({
        model: pick(rng, models),
        inputTokens: int(rng, 200, 1500),
        outputTokens: int(rng, 600, 2200),
        promptTemplateHash: chance(rng, 0.85) ? pick(rng, plan.family!) : `tpl_${plan.accountId}_u${int(rng, 0, 999_999)}`,
        signals: backgroundSignals(rng),
      });
      const releaseDay = Math.floor(days / 2);
      if (releaseDay > 0) yield* eachDay(0.7, () => int(rng, 100, 250), tz, 8, draft, 0, releaseDay);
      yield* eachDay(1, () => int(rng, 100, 250), tz, 8, draft, releaseDay, days);
      return;
    }
  }
}

/**
 * How an account takes up the model released during the scenario: from when, and what share of
 * its requests go to it. Ordinary users and most legitimate heavy users drift over to it over days,
 * each with a small share; a chat product switches its traffic within hours; every other office
 * rolls it out to all its people on release day (linked accounts moving together, each with its
 * own prompts); an operation moves half its traffic within hours. The violation patterns of the
 * other populations keep their models.
 */
function adoptionOf(plan: AccountPlan, opts: ScenarioOptions): { from: number; share: number } | undefined {
  const release = modelRelease(opts);
  if (release === undefined) return undefined;
  const r = rngFor(opts.seed, 6_000_000 + plan.index);
  // A group's own stream: its members move together.
  const g = rngFor(opts.seed, 7_000_000 + [...(plan.group ?? "")].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) | 0, 7));
  const drift = () => (chance(r, 0.5) ? { from: release + Math.floor(-Math.log(1 - r()) * 2 * dayMs), share: 0.1 + r() * 0.4 } : undefined);
  switch (plan.population) {
    case "model-rush-operation":
      return { from: release + Math.floor((1 + g() * 3) * hourMs), share: 0.5 + r() * 0.2 };
    case "heavy-chat-product":
      return { from: release + Math.floor((1 + r() * 11) * hourMs), share: 0.9 };
    case "ordinary":
      if (plan.group?.startsWith("office-") && g() < 0.5) return { from: release + Math.floor((2 + g() * 18) * hourMs), share: 0.5 + r() * 0.3 };
      return drift();
    case "cgnat-user":
    case "campus-student":
    case "heavy-coding-agent":
    case "data-labelling":
      return drift();
    default:
      return undefined;
  }
}

/** Every account's events merged into one stream ordered by time (ties by account index). */
export function* generateEvents(plans: AccountPlan[], opts: ScenarioOptions): Generator<UsageEventInput> {
  type Head = { at: number; index: number; event: UsageEventInput; rest: Generator<UsageEventInput> };
  const heap: Head[] = [];
  const less = (a: Head, b: Head) => a.at < b.at || (a.at === b.at && a.index < b.index);
  const push = (h: Head) => {
    heap.push(h);
    for (let i = heap.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!less(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const pop = (): Head => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  };
  const advance = (index: number, rest: Generator<UsageEventInput>) => {
    const next = rest.next();
    if (!next.done) push({ at: Date.parse(next.value.occurredAt), index, event: next.value, rest });
  };
  for (const plan of plans) advance(plan.index, opts.providerAges ? withProviderAge(plan, accountEvents(plan, opts)) : accountEvents(plan, opts));
  while (heap.length) {
    const head = pop();
    yield head.event;
    advance(head.index, head.rest);
  }
}

export function truthOf(plans: AccountPlan[]): TruthRecord[] {
  return plans.map(({ accountId, population, pattern, group, suspendedBeforeStart }) => ({
    accountId,
    population,
    pattern,
    ...(group ? { group } : {}),
    ...(suspendedBeforeStart ? { suspendedBeforeStart } : {}),
  }));
}
