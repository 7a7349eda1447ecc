// npm run demo -- [--accounts 50] [--days 1] [--hours N] [--seed 1] [--url URL --key KEY]
// A day of realistic traffic from the scenario generator (ordinary and heavy users, distillation
// operations over linked accounts, resellers, ban evaders, jailbreaks, unsupported regions),
// posted to ClauseGuard (an embedded one it starts on a throw-away folder, or --url), then, once
// evaluated, which accounts were flagged under which clause, with the top evidence and what the
// generator had planted.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createApiClient } from "../src/cli/api-client";
import { generateKey } from "../src/features/auth/api-key";
import { generateEvents, planScenario, scenarioNetworks, truthOf } from "./scenarios/scenario-generator";
import { writeScenarioPack } from "./scenarios/scenario-runner";
import { runScenario } from "./scenarios/scenario-runner";
import { repoRoot, scriptOptions, startServerProcess, wholeNumber } from "./bench-support";

const args = scriptOptions("demo", {
  accounts: { type: "string", default: "50" },
  days: { type: "string", default: "1" },
  hours: { type: "string" },
  seed: { type: "string", default: "1" },
  url: { type: "string" },
  key: { type: "string" },
});

type Condition = { fact: string; params?: { signal?: string }; jsonPath?: string; operator: string; value: unknown; factValue: unknown; result: boolean | null };
type CaseDetail = { id: string; accountId: string; ruleId: string; severity: string; hitCount: number; clause: { ref: string; text: string }; evidence: { conditions: Condition[] }[] };

const ops: Record<string, string> = { greaterThan: ">", greaterThanInclusive: ">=", lessThan: "<", lessThanInclusive: "<=", equal: "=", notEqual: "!=" };
const show = (v: unknown) => (typeof v === "number" ? (Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(2)) : JSON.stringify(v));

async function main(): Promise<void> {
  const accounts = wholeNumber("accounts", args.accounts, 50);
  const days = wholeNumber("days", args.days, 1);
  // --hours N: only the first N hours of the period (a quicker look; the history before it is kept).
  const hours = args.hours === undefined ? days * 24 : wholeNumber("hours", args.hours, 1);
  if (hours > days * 24) {
    console.error(`demo: --hours must be at most the period's ${days * 24} hours`);
    process.exit(2);
  }
  const seed = wholeNumber("seed", args.seed);
  if (args.url && !/^https?:\/\/[^/]+/.test(args.url)) {
    console.error("demo: --url must be an http:// or https:// URL");
    process.exit(2);
  }
  const key = args.key ?? process.env.CLAUSEGUARD_API_KEY ?? (args.url ? undefined : generateKey().key);
  if (!key) {
    console.error("demo: with --url, pass --key (or set CLAUSEGUARD_API_KEY): a key with events:write, cases:read and cases:write");
    process.exit(2);
  }
  // The traffic ends now: the day before this moment.
  const start = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - days * 86_400_000);
  const opts = { accounts, days, seed, start };
  const until = start.getTime() + hours * 3_600_000;
  /** Accounts that sent traffic in the period posted: the planted ones among them are what could be caught. */
  const active = new Set<string>();
  const posted = function* () {
    for (const e of generateEvents(plans, opts)) {
      if (Date.parse(e.occurredAt) >= until) return;
      if (Date.parse(e.occurredAt) >= start.getTime()) active.add(e.accountId);
      yield e;
    }
  };
  const plans = planScenario(opts);
  const truth = new Map(truthOf(plans).map((t) => [t.accountId, t]));

  const dataDir = args.url ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), "clauseguard-demo-"));
  const server = dataDir
    ? await startServerProcess({ CLAUSEGUARD_ADMIN_KEY: key, CLAUSEGUARD_DATA_DIR: dataDir, CLAUSEGUARD_RULES_DIR: writeScenarioPack(path.join(repoRoot, "rules"), path.join(dataDir, "rules"), scenarioNetworks(opts)), LOG_LEVEL: "info" }, ["serve"])
    : undefined;
  const url = (args.url ?? server!.url).replace(/\/+$/, "");
  const client = createApiClient(url, key);
  const call = <T>(p: string): Promise<T> => client.request<T>("GET", p);
  try {
    console.log(`ClauseGuard demo: ${accounts} accounts, ${hours === days * 24 ? `${days} day(s)` : `the first ${hours} hour(s)`} of traffic, seed ${seed}, posting to ${url}${dataDir ? " (an embedded server on a throw-away folder)" : ""}`);
    console.log("Cases as ClauseGuard opens them (seconds since the first event was posted):");
    const began = Date.now();
    const watcher = watchCases(call, began, truth);
    let run;
    try {
      run = await runScenario({
        api: { url, key },
        events: posted(),
        truth: [...truth.values()],
        start,
        onProgress: (n) => {
          if (n % 20_000 < 2000) process.stderr.write(`  ${n.toLocaleString("en-US")} events posted\n`);
        },
      });
    } finally {
      await watcher.stop();
    }
    console.log(`\nFirst case after ${watcher.firstCaseSeconds() ?? "-"} s.`);
    console.log(`${run.events.toLocaleString("en-US")} events posted in ${run.ingestSeconds.toFixed(0)} s, all evaluated ${run.evaluationSeconds.toFixed(0)} s later.\n`);

    // Every case, grouped by clause and rule.
    const cases: { id: string; ruleId: string; accountId: string }[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { id: string; ruleId: string; accountId: string }[]; nextCursor: string | null } = await call(`/v1/cases?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      cases.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    const byRule = new Map<string, typeof cases>();
    for (const c of cases) byRule.set(c.ruleId, [...(byRule.get(c.ruleId) ?? []), c]);

    console.log("Flagged accounts, by the clause they break:\n");
    for (const [ruleId, list] of [...byRule].sort((a, b) => a[0].localeCompare(b[0]))) {
      const details = await Promise.all(list.slice(0, 3).map((c) => call<CaseDetail>(`/v1/cases/${c.id}`)));
      const first = details[0]!;
      console.log(`${first.clause.ref}: "${first.clause.text}"`);
      console.log(`  ${ruleId} (${first.severity}): ${list.length} account(s)`);
      for (const d of details) {
        const planted = truth.get(d.accountId);
        const conditions = (d.evidence[0]?.conditions ?? [])
          .filter((c) => c.result !== null)
          .map((c) => `${c.fact}${c.jsonPath ? c.jsonPath.slice(1) : ""}${c.params?.signal ? `(${c.params.signal})` : ""} = ${show(c.factValue)} ${ops[c.operator] ?? c.operator} ${show(c.value)}`);
        console.log(`    ${d.accountId}  [${planted?.pattern ?? `legitimate: ${planted?.population ?? "unknown"}`}]  ${conditions.join("; ")}`);
      }
      if (list.length > 3) console.log(`    ... and ${list.length - 3} more`);
      console.log("");
    }
    const flagged = new Set(cases.map((c) => c.accountId));
    const plantedAccounts = [...truth.values()].filter((t) => t.pattern && active.has(t.accountId));
    const silent = [...truth.values()].filter((t) => t.pattern && !active.has(t.accountId)).length;
    const caught = plantedAccounts.filter((t) => flagged.has(t.accountId)).length;
    const legit = [...flagged].filter((a) => !truth.get(a)?.pattern).length;
    console.log(`Caught ${caught} of ${plantedAccounts.length} accounts the generator planted a violation in; ${legit} legitimate account(s) flagged.`);
    if (silent) console.log(`(${silent} more planted account(s) sent no traffic in these ${hours} hours.)`);
    // Due process, on the demo's own server only (never on a server given with --url): one
    // planted account enforced, the statement of reasons it gets, and its appeal.
    const planted = cases.find((c) => truth.get(c.accountId)?.pattern);
    if (server && planted) await dueProcess(client, url, planted);
    if (server) console.log("The embedded server is stopped and its folder removed; `npm start` runs one that stays.");
  } finally {
    await server?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Confirms and suspends one case's account, prints its statement of reasons, files its appeal, and shows four eyes refusing the enforcer. */
async function dueProcess(admin: ReturnType<typeof createApiClient>, url: string, c: { id: string; accountId: string }): Promise<void> {
  await admin.request("POST", `/v1/cases/${c.id}/transitions`, { to: "confirmed" });
  await admin.request("POST", `/v1/cases/${c.id}/enforce`, { action: "suspend", note: "demo: confirmed by the analyst" });
  const created = await admin.request<{ key: string }>("POST", "/v1/keys", { name: "demo customer portal", scopes: ["statements:read", "appeals:write"] });
  const portal = createApiClient(url, created.key);
  const { items } = await portal.request<{ items: { id: string; text: string }[] }>("GET", `/v1/accounts/${encodeURIComponent(c.accountId)}/statements`);
  console.log(`\nDue process: ${c.accountId} confirmed and suspended. The statement of reasons its holder gets:\n`);
  console.log(items[0]!.text.replace(/^/gm, "    "));
  const appeal = await portal.request<{ id: string; status: string; deadlineAt: string }>("POST", "/v1/appeals", { statementId: items[0]!.id, explanation: "We run evaluations, not training." });
  console.log(`\nThe holder appealed through the portal: ${appeal.id}, ${appeal.status}, decision due by ${appeal.deadlineAt}.`);
  try {
    await admin.request("POST", `/v1/appeals/${appeal.id}/transitions`, { to: "upheld", note: "I stand by it" });
    console.log("The enforcing key decided its own appeal: four eyes did not hold.");
  } catch (err) {
    console.log(`The key that enforced tried to decide it and was refused: ${(err as Error).message}`);
  }
}

/**
 * Polls the newest cases every 2 seconds while the traffic is posted and prints the new ones, a
 * line per rule, so the first flagged accounts show within seconds of the start.
 */
function watchCases(call: <T>(p: string) => Promise<T>, began: number, truth: Map<string, { pattern: string | null; population: string }>) {
  const seen = new Set<string>();
  let first: number | undefined;
  let stopped = false;
  const poll = async () => {
    const page = await call<{ items: { id: string; ruleId: string; accountId: string; severity: string }[] }>("/v1/cases?limit=500");
    const fresh = page.items.filter((c) => !seen.has(c.id));
    if (fresh.length === 0) return;
    for (const c of fresh) seen.add(c.id);
    first ??= (Date.now() - began) / 1000;
    const byRule = new Map<string, typeof fresh>();
    for (const c of fresh) byRule.set(c.ruleId, [...(byRule.get(c.ruleId) ?? []), c]);
    const t = `${Math.round((Date.now() - began) / 1000)} s`.padStart(6);
    for (const [ruleId, list] of byRule) {
      const sample = list.slice(0, 3).map((c) => `${c.accountId} [${truth.get(c.accountId)?.pattern ?? "legitimate"}]`);
      console.log(`${t}  ${ruleId} (${list[0]!.severity}): ${sample.join(", ")}${list.length > 3 ? ` and ${list.length - 3} more` : ""}`);
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await poll().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return {
    firstCaseSeconds: () => (first === undefined ? undefined : Math.round(first)),
    stop: async () => {
      stopped = true;
      await loop;
      await poll().catch(() => undefined);
    },
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
