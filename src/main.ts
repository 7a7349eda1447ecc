// Process entry: the `clauseguard` command line (serve, worker, migrate, backup, restore, events import,
// cases export, keys, rules, evaluation).
import fs from "node:fs";
import path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { SingleBar } from "cli-progress";
import { createApiClient } from "./cli/api-client";
import { type CaseFilters, exportCases } from "./cli/case-export";
import { importEvents } from "./cli/event-import";
import { OperatorError, exitCodes, toOperatorError } from "./cli/operator-error";
import { type Config, loadConfig } from "./config";
import { type Database } from "./db/database";
import { retryFailed } from "./features/evaluation/evaluation-queue";
import { backupEmbedded, restoreEmbedded } from "./db/backup";
import { type Scope, generateKey, scopes } from "./features/auth/api-key";
import { createApiKeyService } from "./features/auth/api-key-service";
import { createBacktestService } from "./features/rules/backtest";
import { type RuleFile, loadRules } from "./features/rules/rule-files";
import { loadLinkPolicy } from "./features/events/link-policy";
import { ruleCompiler } from "./engine/rule-compiler";
import { type Logger, createLogger } from "./shared/logger";
import { type Roles, openMigratedDatabase, startServer } from "./server";

/** The configuration; a ConfigError (toOperatorError: exit 3) when the environment is invalid. */
function configOrExit(): Config {
  return loadConfig();
}

async function serve(roles: Roles): Promise<void> {
  const config = configOrExit();
  const logger = createLogger(config.logLevel);
  const running = await startServer(config, logger, roles);
  if (running.generatedAdminKey) {
    // Printed once, never logged or stored: only its hash is in the database.
    process.stdout.write(
      `\nClauseGuard created an admin API key for this new database. It is shown only now:\n\n  ${running.generatedAdminKey}\n\n` +
        `Keep it (for example as CLAUSEGUARD_ADMIN_KEY in .env); use it as 'Authorization: Bearer <key>'.\n\n`,
    );
  }
  logger.info({ url: running.url, database: config.database.kind, roles }, "ClauseGuard started");
  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal }, "shutting down: finishing in-flight requests and evaluations");
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, "shutdown timed out; exiting");
      process.exit(exitCodes.failure);
    }, config.shutdownTimeoutMs);
    timer.unref();
    running.stop().then(
      () => {
        logger.info("stopped");
        process.exit(exitCodes.ok);
      },
      (err: unknown) => {
        logger.error({ err }, "error during shutdown");
        process.exit(exitCodes.failure);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

async function withDatabase<T>(fn: (services: ReturnType<typeof createApiKeyService>, logger: Logger, db: Database) => Promise<T>): Promise<T> {
  const config = configOrExit();
  const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
  const db = await openMigratedDatabase(config, logger);
  try {
    return await fn(createApiKeyService(db.prisma, logger), logger, db);
  } finally {
    await db.close();
  }
}

function parseScopes(value: string): Scope[] {
  const list = value.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((s) => !(scopes as readonly string[]).includes(s));
  if (bad.length || list.length === 0) {
    throw new InvalidArgumentError(`unknown scope(s) ${bad.join(", ") || "(none given)"}; choose from ${scopes.join(", ")}`);
  }
  return list as Scope[];
}

function parseDate(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime()) || !/\d{4}-\d{2}-\d{2}/.test(value)) throw new InvalidArgumentError("must be an ISO 8601 date-time");
  return d;
}

function parseUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new InvalidArgumentError("must be an http:// or https:// URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new InvalidArgumentError("must be an http:// or https:// URL");
  return value.replace(/\/+$/, "");
}

function parseBatchSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 5000) throw new InvalidArgumentError("must be a whole number from 1 to 5000");
  return n;
}

type ServerOptions = { url?: string; key?: string };

/** Options of the commands that talk to a running server: its URL and an API key. */
function serverOptions(cmd: Command): Command {
  return cmd
    .option("--url <url>", "the server (default: CLAUSEGUARD_URL, else http://127.0.0.1:$PORT, PORT defaulting to 8080)", parseUrl)
    .option("--key <key>", "an API key (default: CLAUSEGUARD_API_KEY, else CLAUSEGUARD_ADMIN_KEY)");
}

function apiOf(opts: ServerOptions) {
  const url = opts.url ?? (process.env.CLAUSEGUARD_URL ? parseUrlOrExit(process.env.CLAUSEGUARD_URL) : `http://127.0.0.1:${configOrExit().port || 8080}`);
  const key = opts.key ?? process.env.CLAUSEGUARD_API_KEY ?? configOrExit().adminKey;
  if (!key) throw new OperatorError("no API key: pass --key, or set CLAUSEGUARD_API_KEY (or CLAUSEGUARD_ADMIN_KEY)", exitCodes.usage);
  return createApiClient(url, key);
}

function parseUrlOrExit(value: string): string {
  try {
    return parseUrl(value);
  } catch (err) {
    throw new OperatorError(`CLAUSEGUARD_URL: ${(err as Error).message}`, exitCodes.config);
  }
}

export function buildCli(): Command {
  const program = new Command("clauseguard")
    .description("ClauseGuard: terms-of-service compliance rules engine")
    .showHelpAfterError()
    .exitOverride();

  program
    .command("serve", { isDefault: true })
    .description("run the HTTP API and, unless --api-only, the evaluation worker")
    .option("--api-only", "serve the API without evaluating (run workers separately)")
    .action((opts: { apiOnly?: boolean }) => serve({ api: true, worker: !opts.apiOnly }));

  program
    .command("worker")
    .description("run an evaluation worker only (several may share one PostgreSQL)")
    .action(() => serve({ api: false, worker: true }));

  program
    .command("migrate")
    .description("apply pending database migrations and exit")
    .action(async () => {
      const config = configOrExit();
      const db = await openMigratedDatabase(config, createLogger(config.logLevel));
      await db.close();
      process.stdout.write("migrations are up to date\n");
    });

  program
    .command("evaluation")
    .description("work with the evaluation queue")
    .command("retry-failed")
    .description("put dead-lettered events (evaluation_failure, after the fault is fixed) back in the queue")
    .action(async () => {
      const n = await withDatabase((_k, _l, db) => retryFailed(db));
      process.stdout.write(`requeued ${n} event(s)\n`);
    });

  const postgresBackupHint =
    "DATABASE_URL is set: back PostgreSQL up with its own tools, `pg_dump -Fc -f clauseguard.dump \"$DATABASE_URL\"`, and restore with `pg_restore --no-owner --exit-on-error -d <new database URL> clauseguard.dump` (docs/operations.md: Backup and restore)";
  program
    .command("backup <file>")
    .description("write the embedded database (CLAUSEGUARD_DATA_DIR) to a new file; stop the server first")
    .action(async (file: string) => {
      const config = configOrExit();
      if (config.database.kind !== "pglite") throw new OperatorError(postgresBackupHint, exitCodes.usage);
      const r = await backupEmbedded(config.database.dataDir, file);
      process.stdout.write(`backed up ${r.events} event(s) and ${r.cases} case(s) to ${r.file} (${r.bytes} bytes)\n`);
    });
  program
    .command("restore <file>")
    .description("load a backup into CLAUSEGUARD_DATA_DIR, which must be new or empty, and apply pending migrations")
    .action(async (file: string) => {
      const config = configOrExit();
      if (config.database.kind !== "pglite") throw new OperatorError(postgresBackupHint, exitCodes.usage);
      const r = await restoreEmbedded(file, config.database.dataDir);
      process.stdout.write(`restored ${r.events} event(s) and ${r.cases} case(s) from ${r.file} into ${config.database.dataDir}\n`);
    });

  const events = program.command("events").description("work with usage events on a running server");
  serverOptions(
    events
      .command("import <file>")
      .description("post a .ndjson/.jsonl or .csv file of usage events of any size to a running server; exit 5 if any line was rejected")
      .option("--batch-size <n>", "events per request (1-5000)", parseBatchSize, 2000)
      .option("--quiet", "no progress bar"),
  ).action(async (file: string, opts: ServerOptions & { batchSize: number; quiet?: boolean }) => {
    const api = apiOf(opts);
    const bar = !opts.quiet && process.stderr.isTTY ? new SingleBar({ format: "{bar} {percentage}% | {lines} lines | {accepted} accepted, {duplicates} duplicate, {rejected} rejected", stream: process.stderr }) : undefined;
    let started = false;
    const summary = await importEvents({
      api,
      file,
      batchSize: opts.batchSize,
      onProgress: ({ bytesRead, totalBytes, summary: s }) => {
        if (!bar) return;
        const payload = { lines: s.lines, accepted: s.accepted, duplicates: s.duplicates, rejected: s.rejected };
        if (!started) bar.start(totalBytes || 1, 0, payload);
        started = true;
        bar.update(bytesRead, payload);
      },
    });
    bar?.stop();
    for (const r of summary.rejections) process.stderr.write(`line ${r.line}: ${r.errors.map((e) => `${e.path ? `${e.path}: ` : ""}${e.message}`).join("; ")}\n`);
    if (summary.rejected > summary.rejections.length) process.stderr.write(`... and ${summary.rejected - summary.rejections.length} more rejected line(s)\n`);
    process.stdout.write(`${file}: ${summary.lines} event(s) read, ${summary.accepted} accepted, ${summary.duplicates} duplicate, ${summary.rejected} rejected\n`);
    if (summary.rejected > 0) process.exitCode = exitCodes.rejected;
  });

  const cases = program.command("cases").description("work with violation cases on a running server");
  serverOptions(
    cases
      .command("export")
      .description("write every case matching the filters (those of GET /v1/cases) as CSV or NDJSON")
      .addOption(new Option("--format <format>", "output format").choices(["csv", "ndjson"]).default("csv"))
      .option("--out <file>", "write to a new file instead of standard output")
      .option("--status <status>", "open, investigating, confirmed, enforced, dismissed or resolved")
      .option("--severity <severity>", "low, medium, high or critical")
      .option("--rule-id <id>", "one rule")
      .option("--account-id <id>", "one account")
      .option("--assignee <name>", "one assignee")
      .option("--from <date>", "ISO 8601: cases active since")
      .option("--to <date>", "ISO 8601: cases active before"),
  ).action(async (opts: ServerOptions & { format: "csv" | "ndjson"; out?: string } & Record<string, string | undefined>) => {
    const api = apiOf(opts);
    const filters: CaseFilters = { status: opts.status, severity: opts.severity, ruleId: opts.ruleId, accountId: opts.accountId, assignee: opts.assignee, from: opts.from, to: opts.to };
    if (opts.out && fs.existsSync(opts.out)) throw new OperatorError(`${opts.out} already exists: choose another file name`, exitCodes.usage);
    const out = opts.out ? fs.createWriteStream(opts.out, { flags: "wx" }) : process.stdout;
    try {
      const n = await exportCases({ api, filters, format: opts.format, out });
      if (opts.out) process.stderr.write(`exported ${n} case(s) to ${opts.out}\n`);
    } catch (err) {
      if (opts.out) fs.rmSync(opts.out, { force: true });
      throw err;
    } finally {
      if (opts.out) await new Promise((r) => (out as fs.WriteStream).end(r));
    }
  });

  const keys = program.command("keys").description("manage API keys");
  keys
    .command("create")
    .description("create an API key; the key is printed once")
    .requiredOption("--name <name>", "what the key is for")
    .requiredOption("--scopes <list>", `comma-separated: ${scopes.join(", ")}`, parseScopes)
    .option("--expires-at <date>", "ISO 8601 expiry", parseDate)
    .action(async (opts: { name: string; scopes: Scope[]; expiresAt?: Date }) => {
      const created = await withDatabase((k) => k.createKey({ name: opts.name, scopes: opts.scopes, expiresAt: opts.expiresAt }, { actor: "cli" }));
      process.stdout.write(`${JSON.stringify(created)}\n`);
    });
  keys
    .command("list")
    .description("list API keys (never their secrets)")
    .action(async () => {
      const list = await withDatabase((k) => k.listKeys());
      for (const key of list) process.stdout.write(`${JSON.stringify(key)}\n`);
    });
  keys
    .command("revoke <id>")
    .description("revoke an API key")
    .action(async (id: string) => {
      await withDatabase((k) => k.revokeKey(id, { actor: "cli" }));
      process.stdout.write(`revoked ${id}\n`);
    });
  keys
    .command("generate")
    .description("print a new key for CLAUSEGUARD_ADMIN_KEY without storing anything")
    .action(() => {
      process.stdout.write(`${generateKey().key}\n`);
    });

  const rules = program.command("rules").description("work with the policy pack");
  rules
    .command("validate [paths...]")
    .description("validate rule files and folders of them (default: CLAUSEGUARD_RULES_DIR); exit 4 with every fault")
    .action((paths: string[]) => {
      const dirs = paths.length ? paths : [configOrExit().rulesDir];
      const files = loadRules(dirs);
      process.stdout.write(`${files.length} rule file(s) valid: ${files.map((f) => f.rule.id).join(", ")}\n`);
      // A folder's link policy (links/) is part of the pack: checked with it.
      for (const dir of dirs.filter((d) => fs.existsSync(path.join(d, "links")))) {
        const policy = loadLinkPolicy(dir);
        process.stdout.write(`link policy of ${dir} valid: ${policy.lists.map((l) => `${l.name} (${l.prefixes} prefixes)`).join(", ") || "no network lists"}\n`);
      }
    });
  rules
    .command("backtest <file>")
    .description("replay stored events through a rule file without creating cases; prints the result as JSON")
    .requiredOption("--from <date>", "ISO 8601 start of the range", parseDate)
    .requiredOption("--to <date>", "ISO 8601 end of the range", parseDate)
    .action(async (file: string, opts: { from: Date; to: Date }) => {
      if (opts.to <= opts.from) throw new OperatorError("--to must be after --from", exitCodes.usage);
      const [{ rule }] = loadRules([file]) as [RuleFile];
      const config = configOrExit();
      const db = await openMigratedDatabase(config, createLogger("warn"));
      try {
        // The configured evaluator, as the server's backtests and evaluation use.
        const result = await createBacktestService(db, ruleCompiler(config.evaluator), loadLinkPolicy(config.rulesDir).hubLimits).run({ rule, version: null, from: opts.from, to: opts.to }, {
          onProgress: (p) => process.stderr.write(`backtest: ${p.eventsRead} events read, ${p.accountsEvaluated} accounts, ${p.accountsHit} hit\n`),
        });
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } finally {
        await db.close();
      }
    });
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    const known = toOperatorError(err);
    if (known) {
      if (known.exitCode !== exitCodes.ok && !/^\(outputHelp\)|^error: /.test(known.message)) process.stderr.write(`clauseguard: ${known.message}\n`);
      process.exit(known.exitCode);
    }
    process.stderr.write(`clauseguard: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(exitCodes.failure);
  }
}

if (require.main === module) void main();
