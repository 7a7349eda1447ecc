// `clauseguard serve [--api-only]` and `clauseguard worker`: the long-running process, with its graceful shutdown.
import type { Command } from "commander";
import { loadConfig } from "../../config";
import { createLogger } from "../../shared/logger";
import { type Roles, startServer } from "../../server";
import { exitCodes } from "../operator-error";

export function registerServeCommands(program: Command): void {
  program
    .command("serve", { isDefault: true })
    .description("run the HTTP API and, unless --api-only, the evaluation worker")
    .option("--api-only", "serve the API without evaluating (run workers separately)")
    .action((opts: { apiOnly?: boolean }) => serve({ api: true, worker: !opts.apiOnly }));

  program
    .command("worker")
    .description("run an evaluation worker only (several may share one PostgreSQL)")
    .action(() => serve({ api: false, worker: true }));
}

async function serve(roles: Roles): Promise<void> {
  const config = loadConfig();
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
