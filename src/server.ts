// Starts ClauseGuard: database, migrations, policy pack, bootstrap key, then the HTTP API and/or
// the evaluation worker; stop() shuts down in order (stop accepting, drain, close the database).
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createApp } from "./api/app";
import type { Config } from "./config";
import { type Database, openDatabase } from "./db/database";
import { type EvaluationThread, startEvaluationThread } from "./evaluation-thread";
import { migrate } from "./db/migrator";
import { loadLinkPolicy } from "./features/events/link-policy";
import { loadRuleFiles } from "./features/rules/rule-files";
import { loadNotice } from "./features/statements/notice-templates";
import { loadSigningKeys } from "./features/evidence/signing-keys";
import type { Logger } from "./shared/logger";
import { type Role, type RunningRoles, startRoles } from "./scheduler";
import { type Services, createServices } from "./services";
import { lowerThreadPriority } from "./shared/thread-priority";

/** `jobs`: the periodic housekeeping (src/scheduler.ts); it runs with the worker unless set. */
export type Roles = { api: boolean; worker: boolean; jobs?: boolean };

export type RunningServer = {
  services: Services;
  url: string | undefined;
  /** The admin key generated on the first start of an empty database, if this start made one. */
  generatedAdminKey: string | undefined;
  stop(): Promise<void>;
};

/**
 * Opens the configured database, applies migrations and returns it (closing it on failure).
 * `ownThread`: the embedded database runs in a thread of its own (the server's choice, so that no
 * statement holds up HTTP); commands that only run statements keep it in their thread.
 */
export async function openMigratedDatabase(config: Pick<Config, "database">, logger: Logger, opts: { ownThread?: boolean } = {}): Promise<Database> {
  const db = await openDatabase(
    config.database.kind === "pglite" ? { kind: "pglite", dataDir: config.database.dataDir, thread: opts.ownThread } : config.database,
  );
  try {
    const applied = await migrate(db);
    if (applied.length) logger.info({ applied }, "migrations applied");
    return db;
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** A database passed in stays its opener's to close; one opened here is closed by stop(). */
export async function startServer(config: Config, logger: Logger, roles: Roles, db?: Database): Promise<RunningServer> {
  // Rule files are read before the database is touched: a broken policy pack stops the start at once.
  const ruleFiles = loadRuleFiles(config.rulesDir);
  const linkPolicy = loadLinkPolicy(config.rulesDir);
  const notice = loadNotice(config.rulesDir);
  // The embedded database's folder holds its signing key when none is configured; PostgreSQL needs one configured.
  const signingKeys = loadSigningKeys({ keyFile: config.signing?.keyFile, retiredFiles: config.signing?.retiredFiles ?? [], dataDir: config.database.kind === "pglite" && !db ? config.database.dataDir : undefined });
  const database = db ?? (await openMigratedDatabase(config, logger, { ownThread: true }));
  // Both roles on a database this server opened: evaluation runs in a thread of its own
  // (evaluation-thread.ts), so that its work and its garbage collection never hold up HTTP.
  const threaded = roles.api && roles.worker && !db && database.connection !== undefined;
  let evaluationThread: EvaluationThread | undefined;
  let running: RunningRoles | undefined;
  const background: Role[] = [...(roles.worker ? (["worker"] as const) : []), ...((roles.jobs ?? roles.worker) ? (["jobs"] as const) : [])];
  const services = createServices(database, config, logger, { linkPolicy, notice, signingKeys, ...(threaded ? { onStored: () => evaluationThread?.nudge() } : {}) });
  let server: Server | undefined;
  let generatedAdminKey: string | undefined;
  let stopping: Promise<void> | undefined;
  try {
    const sync = await services.rules.syncRuleFiles(ruleFiles);
    logger.info({ dir: config.rulesDir, ...sync }, "policy pack synchronized");
    for (const { ruleId, lists } of sync.awaitingLists) {
      logger.warn({ ruleId, lists }, "a rule file names lists that do not exist yet: its list conditions hold for no event until they are created (POST /v1/lists, or clauseguard lists import --create)");
    }
    generatedAdminKey = (await services.apiKeys.bootstrapAdminKey(config.adminKey)).generatedKey;
    await services.ruleRegistry.refresh();
    if (threaded) {
      // The worker and jobs roles run in the thread (evaluation-thread-main.ts, through startRoles too).
      evaluationThread = await startEvaluationThread(
        { config, connection: database.connection!, pretty: process.stdout.isTTY === true, hubLimits: linkPolicy.hubLimits, roles: background },
        { worker: services.worker.stats, rules: services.evaluation.ruleStats, webhooks: services.webhooks.stats },
        logger,
      );
    } else if (roles.worker && !roles.api) {
      // A worker-only process evaluates on its main thread; with the API in the same thread
      // (tests' unthreaded mode) lowering it would slow HTTP too.
      lowerThreadPriority(config.evaluation.nice ?? 0, logger);
    }
    running = await startRoles(services, config, [...(roles.api ? (["api"] as const) : []), ...(threaded ? [] : background)], logger);
    if (roles.api) {
      const app = createApp(services, { bodyLimitBytes: config.bodyLimitBytes, workerInProcess: roles.worker, rateLimits: config.rateLimits, metricsPublic: config.metricsPublic, corsOrigins: config.corsOrigins });
      server = await new Promise<Server>((resolve, reject) => {
        const s = app.listen(config.port, config.host, () => resolve(s));
        s.once("error", reject);
      });
      server.requestTimeout = 60_000;
      // Idle keep-alive connections outlive the client's (and a load balancer's 60 s): the client
      // closes first, so it never reuses a socket the server is closing at that moment (ECONNRESET).
      server.keepAliveTimeout = 65_000;
      server.headersTimeout = 66_000;
      // While stopping, each request still arriving on a kept-alive connection is served and its
      // connection closed after the answer: clients busy on every socket cannot hold the drain open.
      server.prependListener("request", (_req, res) => {
        if (stopping) res.setHeader("connection", "close");
      });
    }
  } catch (err) {
    await running?.stop();
    await evaluationThread?.stop();
    if (!db) await database.close();
    throw err;
  }
  const address = server?.address() as AddressInfo | undefined;
  return {
    services,
    url: address ? `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}` : undefined,
    generatedAdminKey,
    stop() {
      stopping ??= (async () => {
        if (server) {
          const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
          server.closeIdleConnections();
          await closed;
        }
        await running?.stop();
        await evaluationThread?.stop();
        if (!db) await database.close();
      })();
      return stopping;
    },
  };
}
