// What the benchmarks share: their synthetic usage events (deterministic for an index), argument
// checks, and a throw-away PostgreSQL database.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import pg from "pg";
import { generateKey } from "../src/features/auth/api-key";
import type { UsageEventInput } from "../src/features/events/event-schemas";
import type { ScenarioOptions } from "./scenarios/scenario-generator";

/** The running script's name, for its argument errors. */
let scriptName = "bench";

/** A script's options: an unknown option, a stray argument or a missing value exits 2 with parseArgs' message naming it. */
export function scriptOptions<const T extends NonNullable<ParseArgsConfig["options"]>>(script: string, options: T) {
  scriptName = script;
  try {
    return parseArgs({ options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    // Only the command line's faults; a fault in the option table itself is a bug, thrown as such.
    if (!String((err as { code?: unknown })?.code ?? "").startsWith("ERR_PARSE_ARGS_")) throw err;
    console.error(`${script}: ${(err as Error).message}`);
    process.exit(2);
  }
}

/** One of a few words, or exit 2 naming the option and the words. */
export function oneOf<const T extends string>(name: string, text: string | undefined, choices: readonly T[]): T {
  if (!choices.includes(text as T)) {
    console.error(`${scriptName}: --${name} must be one of ${choices.join(", ")}, got '${text}'`);
    process.exit(2);
  }
  return text as T;
}

/** --accounts, --days, --seed and --start of a generated scenario (generate, eval:policy), or exit 2 naming the bad one. */
export function scenarioOptions(args: {
  accounts?: string;
  days?: string;
  seed?: string;
  start?: string;
  "ring-accounts"?: string;
  "ring-prefixes"?: string;
  "fresh-install"?: boolean;
  "provider-ages"?: boolean;
}): ScenarioOptions {
  const start = new Date(args.start ?? "");
  if (Number.isNaN(start.getTime()) || !/^\d{4}-\d{2}-\d{2}T/.test(args.start ?? "")) {
    console.error(`${scriptName}: --start must be an ISO 8601 date-time such as 2026-11-02T00:00:00Z, got '${args.start}'`);
    process.exit(2);
  }
  const ringAccounts = wholeNumber("ring-accounts", args["ring-accounts"] ?? "0", 0, 1_000_000);
  const ringPrefixes = wholeNumber("ring-prefixes", args["ring-prefixes"] ?? "400", 1, 65_536);
  return {
    accounts: wholeNumber("accounts", args.accounts, 100),
    days: wholeNumber("days", args.days, 2),
    seed: wholeNumber("seed", args.seed),
    start,
    ...(ringAccounts > 0 ? { ring: { accounts: ringAccounts, prefixes: ringPrefixes } } : {}),
    ...(args["fresh-install"] ? { freshInstall: true } : {}),
    ...(args["provider-ages"] ? { providerAges: true } : {}),
  };
}

/** The options of scenarioOptions, for a script's option table. */
export const scenarioOptionDefinitions = {
  /** A proxy ring of this many lightly used accounts on top of the scenario's own (0: none). */
  "ring-accounts": { type: "string", default: "0" },
  /** The proxy /24s the ring's requests rotate over. */
  "ring-prefixes": { type: "string", default: "400" },
  /** No history before the scenario: every account is first seen in it (a fresh installation). */
  "fresh-install": { type: "boolean", default: false },
  /** Each account's first event carries the provider's creation time (accountCreatedAt). */
  "provider-ages": { type: "boolean", default: false },
} as const;

/** A whole-number option, or exit 2 naming it. */
export function wholeNumber(name: string, text: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`${scriptName}: --${name} must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : " up"}, got '${text}'`);
    process.exit(2);
  }
  return n;
}

/** A folder that exists, resolved, or exit 2 naming the option. */
export function existingFolder(name: string, text: string): string {
  const dir = path.resolve(text);
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    console.error(`${scriptName}: --${name} must be an existing folder, got '${text}'`);
    process.exit(2);
  }
  return dir;
}

/** Creates an empty database next to `adminUrl`'s; drop() removes it. */
export async function freshPostgresDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `clauseguard_bench_${randomBytes(4).toString("hex")}`;
  const run = async (statement: string) => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(statement);
    } finally {
      await admin.end();
    }
  };
  await run(`CREATE DATABASE "${name}"`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

const models = ["frontier-large", "frontier-small", "embed-1"];
const countries = ["US", "NL", "DE", "IN", "BR", "JP", "GB", "FR"];
const uas = ["python-httpx/0.27", "node-fetch/3", "curl/8.5", "Mozilla/5.0"];

/**
 * A realistic mix: account activity is heavy-tailed (a few accounts send most requests), each
 * account uses a few IPs, countries and prompt templates, a third of events carry signals.
 */
export function makeEvent(i: number, accountId: string, atMs: number): UsageEventInput {
  const a = Number(accountId.replace(/\D/g, "")) || 0;
  return {
    eventId: `bench_${i}_${randomBytes(4).toString("hex")}`,
    occurredAt: new Date(atMs).toISOString(),
    accountId,
    orgId: `org_${a % 500}`,
    apiKeyId: `key_${a}_${i % 2}`,
    model: models[(a + (i % 7 === 0 ? 1 : 0)) % models.length]!,
    endpoint: "chat.completions",
    inputTokens: 200 + (i % 1800),
    outputTokens: 100 + ((i * 7) % 3900),
    ip: `198.${(a >> 8) & 255}.${a & 255}.${i % 3}`,
    ipType: a % 5 === 0 ? "hosting" : "residential",
    country: countries[(a + (i % 11 === 0 ? 1 : 0)) % countries.length],
    userAgent: uas[a % uas.length],
    paymentFingerprint: `pmfp_${a}`,
    promptTemplateHash: `tpl_${a % 97}_${i % 4}`,
    ...(i % 3 === 0 ? { signals: { reasoningTraceRequest: (i % 100) / 100, syntheticDataRequest: i % 2 === 0 } } : {}),
  };
}

/** Heavy-tailed account choice: account k is picked with probability falling off like a power law. */
export function pickAccount(i: number, accounts: number, mix: "heavy" | "uniform" = "heavy"): string {
  const r = ((i * 2654435761) % 2 ** 32) / 2 ** 32;
  return `acct_${Math.floor(accounts * (mix === "uniform" ? r : r ** 3))}`;
}


export const repoRoot = path.resolve(__dirname, "..");

/**
 * Switches that change how the server evaluates, passed on from the shell that runs a script to
 * the servers it starts, so one script measures each arrangement (e.g.
 * `CLAUSEGUARD_EVAL_CADENCE=minute npm run demo`). Nothing else of the shell's environment is.
 */
export const forwardedSwitches = ["CLAUSEGUARD_EVAL_CADENCE", "CLAUSEGUARD_EVALUATOR", "CLAUSEGUARD_EVAL_NICE"] as const;

/**
 * Starts `clauseguard <args>` in a child process (one node process, tsx as its loader) with the
 * given environment and PORT=0, and resolves with its URL ("" for a worker) once it logs that it started.
 */
export async function startServerProcess(env: Record<string, string>, args: string[], nodeFlags: string[] = []): Promise<{ child: ChildProcess; url: string; stop(): Promise<void> }> {
  const loader = new URL(`file://${path.join(repoRoot, "node_modules/tsx/dist/loader.mjs")}`).href;
  let out = "";
  const child = spawn(process.execPath, [...nodeFlags, "--import", loader, path.join(repoRoot, "src/main.ts"), ...args], {
    // info: the "started" line carries the URL; request logs go to a pipe nobody prints.
    env: { PATH: process.env.PATH ?? "", PORT: "0", LOG_LEVEL: "info", ...forwarded(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d: Buffer) => {
    // BENCH_SERVER_LOG=file appends the server's log to that file while a bench runs.
    if (process.env.BENCH_SERVER_LOG) fs.appendFileSync(process.env.BENCH_SERVER_LOG, d);
    out = (out + d.toString()).slice(-100_000);
  });
  child.stderr!.on("data", (d: Buffer) => {
    // BENCH_STDERR=1 shows the server's own diagnostics while a bench runs.
    if (process.env.BENCH_STDERR) process.stderr.write(d);
    out = (out + d.toString()).slice(-100_000);
  });
  const until = Date.now() + 60_000;
  for (;;) {
    // A worker-only process starts without a URL.
    const started = /\{[^\n]*"msg":"ClauseGuard started"[^\n]*\}/.exec(out)?.[0];
    if (started) {
      return {
        child,
        url: /"url":"(http:\/\/[^"]+)"/.exec(started)?.[1] ?? "",
        stop: async () => {
          if (child.exitCode !== null) return;
          child.kill("SIGTERM");
          await new Promise((r) => child.once("exit", r));
        },
      };
    }
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > until) throw new Error(`server did not start in 60 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function forwarded(): Record<string, string> {
  return Object.fromEntries(forwardedSwitches.flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k]!]])));
}

export const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

/**
 * `clauseguard serve` (both roles) on a fresh database, as the benches run it: the embedded one in
 * a temporary folder, or a new PostgreSQL database; the policy pack; rate limits off. `close`
 * stops it and removes its data. With a port, `stopKeepingData` and `startAgain` restart it at the
 * same address (a test's ClauseGuard restart).
 */
export async function startBenchServer(kind: "pglite" | "postgres", databaseUrl: string, name: string, opts: { port?: number } = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `cg-bench-${name}-`));
  const fresh = kind === "postgres" ? await freshPostgresDatabase(databaseUrl) : undefined;
  const adminKey = generateKey().key;
  const env = {
    CLAUSEGUARD_ADMIN_KEY: adminKey,
    CLAUSEGUARD_DATA_DIR: dataDir,
    CLAUSEGUARD_RULES_DIR: path.join(repoRoot, "rules"),
    CLAUSEGUARD_RATE_LIMIT_PER_KEY: "0",
    CLAUSEGUARD_RATE_LIMIT_PER_ADDRESS: "0",
    ...(fresh ? { DATABASE_URL: fresh.url } : {}),
    ...(opts.port ? { PORT: String(opts.port) } : {}),
  };
  const server = await startServerProcess(env, ["serve"]);
  let current: typeof server | undefined = server;
  return {
    ...server,
    adminKey,
    async stopKeepingData() {
      await current?.stop();
      current = undefined;
    },
    async startAgain() {
      if (!opts.port) throw new Error("startAgain needs the port the server was started with");
      current ??= await startServerProcess(env, ["serve"]);
    },
    async close() {
      await current?.stop();
      await fresh?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
