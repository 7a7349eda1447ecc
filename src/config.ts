// The only module that reads the environment: validates it once with zod and hands on a typed Config.
import fs from "node:fs";
import path from "node:path";
import { parse as parseDotenv } from "dotenv";
import { z } from "zod";
import { type EvaluatorKind, evaluatorKinds } from "./engine/evaluation";
import { type EvaluationCadence, evaluationCadences } from "./features/evaluation/account-minutes";
import { defaultAppealFilingDays } from "./features/statements/statement-model";
import { defaultAppealDecisionDays } from "./features/appeals/appeal-model";

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** A comma-separated list in one variable, each item checked by `item`; unset or empty: []. */
const commaList = (item: z.ZodString | z.ZodURL, max: number) =>
  z
    .string()
    .transform((s) => s.split(",").map((u) => u.trim()).filter(Boolean))
    .pipe(z.array(item).max(max))
    .default([]);

/** The most events one evaluation batch may claim (scripts that start servers check against it too). */
export const maxEvalBatchSize = 10_000;

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// URL (leave it unset for the embedded database)")
    .optional(),
  CLAUSEGUARD_DATA_DIR: z.string().min(1).default("./data"),
  /** true: the embedded database runs in a thread of its own (HTTP never waits on it); false: in the main thread, as before. */
  CLAUSEGUARD_ADMIN_KEY: z
    .string()
    .regex(/^cg_[a-z0-9]{12}_[A-Za-z0-9_-]{32,}$/, "must look like cg_<12 chars>_<secret of at least 32 chars> (make one with `npm run keys -- generate`)")
    .optional(),
  CLAUSEGUARD_RULES_DIR: z.string().min(1).default("./rules"),
  LOG_LEVEL: z.enum(logLevels).default("info"),
  /** Largest accepted request body, in bytes (a 5,000-event batch is about 3 MB). */
  CLAUSEGUARD_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(512 * 1024 * 1024).default(10 * 1024 * 1024),
  /** How often an idle evaluation worker looks for new work, in milliseconds. */
  CLAUSEGUARD_EVAL_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  /** How long a worker holds claimed events before another worker may take them over (a crashed worker's work waits this long). */
  CLAUSEGUARD_EVAL_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  /** compiled: rules run as closures; json-rules-engine: through the library, which the compiled evaluator is tested against. */
  CLAUSEGUARD_EVALUATOR: z.enum(evaluatorKinds, { message: `must be one of ${evaluatorKinds.join(", ")}` }).default("compiled"),
  /**
   * When account-scope rules are judged: once per account-minute as of its last event (the same
   * judgements whatever the batch size, and the backtest's), or once per account per claimed batch
   * at its newest event (fewer judgements on a backlog, while cluster facts still cost a read per
   * judgement). See docs/evaluation-data-plane.md.
   */
  CLAUSEGUARD_EVAL_CADENCE: z.enum(evaluationCadences, { message: `must be one of ${evaluationCadences.join(", ")}` }).default("batch"),
  /**
   * Nice steps (0-19) the thread that evaluates runs below the process, on Linux: it yields the CPU to the
   * HTTP thread and the embedded database's thread, which answer the gateway. 0 leaves it as is.
   * Default 10 on PostgreSQL (with both roles in one process, /healthz p99 110 -> 69 ms under
   * saturation), 0 on the embedded database, where it measured no gain and delayed detection
   * (docs/performance.md).
   */
  CLAUSEGUARD_EVAL_NICE: z.coerce.number().int().min(0).max(19).optional(),
  /** Events claimed per evaluation batch. */
  CLAUSEGUARD_EVAL_BATCH_SIZE: z.coerce.number().int().min(1).max(maxEvalBatchSize).default(2000),
  /** Batches of events one process stores at once (more wait in line). */
  CLAUSEGUARD_INGEST_MAX_INFLIGHT: z.coerce.number().int().min(1).max(256).default(4),
  /** Batches that may wait for a slot; beyond that POST /v1/events answers 503 with Retry-After at once. */
  CLAUSEGUARD_INGEST_MAX_WAITING: z.coerce.number().int().min(0).max(10_000).default(32),
  /** Longest wait for a slot, in milliseconds, before a 503 with Retry-After. */
  CLAUSEGUARD_INGEST_MAX_WAIT_MS: z.coerce.number().int().min(0).max(120_000).default(10_000),
  /** Events waiting for evaluation above which POST /v1/events answers 503 with Retry-After; 0: no limit. */
  CLAUSEGUARD_EVAL_MAX_BACKLOG: z.coerce.number().int().min(0).max(1_000_000_000).default(200_000),
  /** Comma-separated http(s) URLs that receive webhook notifications (case opened, status changed, account enforced). */
  CLAUSEGUARD_WEBHOOK_URLS: commaList(z.url({ protocol: /^https?$/, message: "must be comma-separated http(s) URLs" }), 20),
  /** Shared secret for the webhooks' HMAC-SHA256 signature; required with CLAUSEGUARD_WEBHOOK_URLS. */
  CLAUSEGUARD_WEBHOOK_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  CLAUSEGUARD_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  CLAUSEGUARD_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(10),
  /** Requests a minute one API key (one credential) may make, on every endpoint but health and metrics; 0 turns the limit off. */
  CLAUSEGUARD_RATE_LIMIT_PER_KEY: z.coerce.number().int().min(0).max(10_000_000).default(6000),
  /** Requests a minute one client address may make (keys or none); 0 turns the limit off. */
  CLAUSEGUARD_RATE_LIMIT_PER_ADDRESS: z.coerce.number().int().min(0).max(10_000_000).default(12_000),
  /** true: GET /metrics is open (for a Prometheus on a private network); false: it needs an admin key. */
  CLAUSEGUARD_METRICS_PUBLIC: z.enum(["true", "false"], { message: "must be true or false" }).default("true"),
  /** Comma-separated origins (scheme://host[:port]) whose browsers may call the API; unset: no CORS headers, browsers keep other origins out. */
  CLAUSEGUARD_CORS_ORIGINS: commaList(z.string().regex(/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i, "must be comma-separated origins such as https://console.example.com (no path, no wildcard)"), 50),
  /** Days raw events are kept (by occurredAt); 0 keeps them forever. Rollups, cases and evidence are kept regardless. */
  CLAUSEGUARD_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .min(0)
    .max(36_500)
    .refine((d) => d === 0 || d >= 91, "must be 0 (keep every event) or at least 91: the longest rule window is 90 days")
    .default(0),
  /** Days after a statement of reasons during which its holder may appeal (the EU DSA asks for at least 180). */
  CLAUSEGUARD_APPEAL_FILING_DAYS: z.coerce.number().int().min(1).max(3650).default(defaultAppealFilingDays),
  /** Days an appeal may wait for a decision before it counts as overdue. */
  CLAUSEGUARD_APPEAL_DECISION_DAYS: z.coerce.number().int().min(1).max(365).default(defaultAppealDecisionDays),
  /** The Ed25519 private key (PKCS#8 PEM file) evidence bundles are signed with; on the embedded database one is made in the data folder when unset. */
  CLAUSEGUARD_SIGNING_KEY_FILE: z.string().min(1).optional(),
  /** Comma-separated PEM files of retired public keys, still served at GET /v1/signing-keys so older bundles verify. */
  CLAUSEGUARD_SIGNING_RETIRED_KEYS: commaList(z.string().min(1), 20),
  /**
   * Indicator-sharing partners and the secret agreed with each: `name=secret,other=secret2`. Exported
   * indicators for a partner, and indicators imported from it, are HMAC-SHA256 hashes keyed with it.
   */
  CLAUSEGUARD_SHARING_PARTNERS: z
    .string()
    .transform((s) => s.split(",").map((p) => p.trim()).filter(Boolean))
    .pipe(
      z
        .array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}=[^=\s]{16,}$/, "must be comma-separated name=secret pairs: a name of lowercase letters, digits, '_' or '-', a secret of at least 16 characters without '=', ',' or spaces"))
        .max(100),
    )
    .default([]),
  /** Longest wait for in-flight requests and evaluations on shutdown, in milliseconds. */
  CLAUSEGUARD_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
});

/** Every variable ClauseGuard reads (.env.example must document each). */
export const configVariables = Object.keys(envSchema.shape);

const checkedEnvSchema = envSchema.superRefine((e, ctx) => {
  if (e.CLAUSEGUARD_WEBHOOK_URLS.length > 0 && !e.CLAUSEGUARD_WEBHOOK_SECRET) {
    ctx.addIssue({ code: "custom", path: ["CLAUSEGUARD_WEBHOOK_SECRET"], message: "is required when CLAUSEGUARD_WEBHOOK_URLS is set (webhooks are always signed)" });
  }
});

export type Config = {
  port: number;
  host: string;
  database: { kind: "pglite"; dataDir: string } | { kind: "postgres"; url: string };
  adminKey: string | undefined;
  rulesDir: string;
  logLevel: (typeof logLevels)[number];
  bodyLimitBytes: number;
  /** nice: nice steps the evaluating thread runs below the process, on Linux (0: unchanged; see src/thread-priority.ts). */
  evaluation: { pollMs: number; batchSize: number; leaseMs: number; cadence?: EvaluationCadence; nice?: number };
  /** Which evaluator judges events and backtests (see src/engine/rule-compiler.ts). */
  evaluator: EvaluatorKind;
  /** Admission control of POST /v1/events (see features/events/ingest-admission.ts). */
  ingest: { maxInFlight: number; maxWaiting: number; maxWaitMs: number; maxBacklog: number };
  shutdownTimeoutMs: number;
  rateLimits: { perKeyPerMinute: number; perAddressPerMinute: number };
  metricsPublic: boolean;
  corsOrigins: string[];
  retentionDays: number;
  /** Statements of reasons and appeals (docs/due-process.md). */
  appeals: { filingDays: number; decisionDays: number };
  /** Evidence bundle signing (docs/due-process.md#signed-evidence): file paths, resolved against the working folder. */
  signing: { keyFile?: string; retiredFiles: string[] };
  /** Indicator-sharing partners: name -> shared secret. */
  sharingPartners: Record<string, string>;
  webhooks: { urls: string[]; secret: string | undefined; timeoutMs: number; maxAttempts: number };
};

export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Builds the Config from an environment (process.env by default). Values in a `.env` file in
 * `cwd` fill in what the environment leaves unset. Empty strings count as unset.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const fromFile = readDotenv(path.join(cwd, ".env"));
  const merged: Record<string, string> = {};
  for (const source of [fromFile, env]) {
    for (const [k, v] of Object.entries(source)) if (v !== undefined && v !== "") merged[k] = v;
  }
  const parsed = checkedEnvSchema.safeParse(merged);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? "?"), message: i.message })),
    );
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    database: e.DATABASE_URL
      ? { kind: "postgres", url: e.DATABASE_URL }
      : { kind: "pglite", dataDir: path.resolve(cwd, e.CLAUSEGUARD_DATA_DIR) },
    adminKey: e.CLAUSEGUARD_ADMIN_KEY,
    rulesDir: path.resolve(cwd, e.CLAUSEGUARD_RULES_DIR),
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.CLAUSEGUARD_BODY_LIMIT_BYTES,
    evaluation: { pollMs: e.CLAUSEGUARD_EVAL_POLL_MS, batchSize: e.CLAUSEGUARD_EVAL_BATCH_SIZE, leaseMs: e.CLAUSEGUARD_EVAL_LEASE_MS, cadence: e.CLAUSEGUARD_EVAL_CADENCE, nice: e.CLAUSEGUARD_EVAL_NICE ?? (e.DATABASE_URL ? 10 : 0) },
    evaluator: e.CLAUSEGUARD_EVALUATOR,
    ingest: {
      maxInFlight: e.CLAUSEGUARD_INGEST_MAX_INFLIGHT,
      maxWaiting: e.CLAUSEGUARD_INGEST_MAX_WAITING,
      maxWaitMs: e.CLAUSEGUARD_INGEST_MAX_WAIT_MS,
      maxBacklog: e.CLAUSEGUARD_EVAL_MAX_BACKLOG,
    },
    shutdownTimeoutMs: e.CLAUSEGUARD_SHUTDOWN_TIMEOUT_MS,
    rateLimits: { perKeyPerMinute: e.CLAUSEGUARD_RATE_LIMIT_PER_KEY, perAddressPerMinute: e.CLAUSEGUARD_RATE_LIMIT_PER_ADDRESS },
    metricsPublic: e.CLAUSEGUARD_METRICS_PUBLIC === "true",
    corsOrigins: e.CLAUSEGUARD_CORS_ORIGINS,
    retentionDays: e.CLAUSEGUARD_RETENTION_DAYS,
    appeals: { filingDays: e.CLAUSEGUARD_APPEAL_FILING_DAYS, decisionDays: e.CLAUSEGUARD_APPEAL_DECISION_DAYS },
    sharingPartners: Object.fromEntries(e.CLAUSEGUARD_SHARING_PARTNERS.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)])),
    signing: {
      ...(e.CLAUSEGUARD_SIGNING_KEY_FILE ? { keyFile: path.resolve(cwd, e.CLAUSEGUARD_SIGNING_KEY_FILE) } : {}),
      retiredFiles: e.CLAUSEGUARD_SIGNING_RETIRED_KEYS.map((f) => path.resolve(cwd, f)),
    },
    webhooks: {
      urls: e.CLAUSEGUARD_WEBHOOK_URLS,
      secret: e.CLAUSEGUARD_WEBHOOK_SECRET,
      timeoutMs: e.CLAUSEGUARD_WEBHOOK_TIMEOUT_MS,
      maxAttempts: e.CLAUSEGUARD_WEBHOOK_MAX_ATTEMPTS,
    },
  };
}

function readDotenv(file: string): Record<string, string> {
  try {
    return parseDotenv(fs.readFileSync(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  }
}
