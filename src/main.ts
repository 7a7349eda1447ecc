// Process entry: the `clauseguard` command line (serve, worker, migrate, backup, restore, keys, rules, evaluation).
import { Command, InvalidArgumentError } from "commander";
import { ConfigError, type Config, loadConfig } from "./config";
import { type Database, DatabaseInUseError } from "./db/database";
import { retryFailed } from "./features/evaluation/evaluation-queue";
import { AppError } from "./errors";
import { MigrationError } from "./db/migrator";
import { BackupError, backupEmbedded, restoreEmbedded } from "./db/backup";
import { type Scope, generateKey, scopes } from "./features/auth/api-key";
import { createApiKeyService } from "./features/auth/api-key-service";
import { runBacktest } from "./features/rules/backtest";
import { type RuleFile, RuleFileError, loadRules } from "./features/rules/rule-files";
import { CompiledRule } from "./engine/rule-evaluator";
import { type Logger, createLogger } from "./logger";
import { type Roles, openMigratedDatabase, startServer } from "./server";

/** Exit codes scripts can rely on. */
export const exitCodes = { ok: 0, failure: 1, usage: 2, config: 3, invalidRules: 4 } as const;

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, exitCodes.config);
    throw err;
  }
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

export function buildCli(): Command {
  const program = new Command("clauseguard")
    .description("ClauseGuard: terms-of-service compliance rules engine")
    .showHelpAfterError()
    .exitOverride((err) => {
      throw new CliError(err.message, err.exitCode === 0 ? exitCodes.ok : exitCodes.usage);
    });

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
    "DATABASE_URL is set: back PostgreSQL up with its own tools, `pg_dump -Fc -f clauseguard.dump \"$DATABASE_URL\"`, and restore with `pg_restore --no-owner --exit-on-error -d <new database URL> clauseguard.dump` (README: Backup and restore)";
  program
    .command("backup <file>")
    .description("write the embedded database (CLAUSEGUARD_DATA_DIR) to a new file; stop the server first")
    .action(async (file: string) => {
      const config = configOrExit();
      if (config.database.kind !== "pglite") throw new CliError(postgresBackupHint, exitCodes.usage);
      const r = await backupEmbedded(config.database.dataDir, file);
      process.stdout.write(`backed up ${r.events} event(s) and ${r.cases} case(s) to ${r.file} (${r.bytes} bytes)\n`);
    });
  program
    .command("restore <file>")
    .description("load a backup into CLAUSEGUARD_DATA_DIR, which must be new or empty, and apply pending migrations")
    .action(async (file: string) => {
      const config = configOrExit();
      if (config.database.kind !== "pglite") throw new CliError(postgresBackupHint, exitCodes.usage);
      const r = await restoreEmbedded(file, config.database.dataDir);
      process.stdout.write(`restored ${r.events} event(s) and ${r.cases} case(s) from ${r.file} into ${config.database.dataDir}\n`);
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
      const files = loadRules(paths.length ? paths : [configOrExit().rulesDir]);
      process.stdout.write(`${files.length} rule file(s) valid: ${files.map((f) => f.rule.id).join(", ")}\n`);
    });
  rules
    .command("backtest <file>")
    .description("replay stored events through a rule file without creating cases; prints the result as JSON")
    .requiredOption("--from <date>", "ISO 8601 start of the range", parseDate)
    .requiredOption("--to <date>", "ISO 8601 end of the range", parseDate)
    .action(async (file: string, opts: { from: Date; to: Date }) => {
      if (opts.to <= opts.from) throw new CliError("--to must be after --from", exitCodes.usage);
      const [{ rule }] = loadRules([file]) as [RuleFile];
      const config = configOrExit();
      const db = await openMigratedDatabase(config, createLogger("warn"));
      try {
        const result = await runBacktest(db, { compiled: new CompiledRule(rule, 0), version: null, from: opts.from, to: opts.to }, {
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
    const known =
      err instanceof CliError
        ? err
        : err instanceof RuleFileError
          ? new CliError(err.message, exitCodes.invalidRules)
          : err instanceof MigrationError || err instanceof DatabaseInUseError || err instanceof AppError || err instanceof BackupError
            ? new CliError(err.message, exitCodes.failure)
            : undefined;
    if (known) {
      if (known.exitCode !== exitCodes.ok && !/^\(outputHelp\)|^error: /.test(known.message)) process.stderr.write(`clauseguard: ${known.message}\n`);
      process.exit(known.exitCode);
    }
    process.stderr.write(`clauseguard: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(exitCodes.failure);
  }
}

if (require.main === module) void main();
