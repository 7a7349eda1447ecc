// createApp: the Express application built from its dependencies (tests pass a test database).
import fs from "node:fs";
import path from "node:path";
import express, { type Express } from "express";
import cors from "cors";
import helmet from "helmet";
import swaggerUiDist from "swagger-ui-dist";
import { pinoHttp } from "pino-http";
import { createAccountsRouter } from "./routes/accounts-router";
import { createStatementsRouter } from "./routes/statements-router";
import { createAppealsRouter } from "./routes/appeals-router";
import { createEvidenceRouter } from "./routes/evidence-router";
import { createIndicatorsRouter } from "./routes/indicators-router";
import { createAuditRouter } from "./routes/audit-router";
import { createKeysRouter } from "./routes/keys-router";
import { createCasesRouter } from "./routes/cases-router";
import { createEventsRouter } from "./routes/events-router";
import { createRulesRouter } from "./routes/rules-router";
import { createListsRouter } from "./routes/lists-router";
import { createSuppressionsRouter } from "./routes/suppressions-router";
import { createHealthRouter } from "./health-router";
import { requireScope } from "./auth";
import { rateLimits } from "./rate-limit";
import { createMetrics } from "./metrics";
import { docsInit, docsPage, openApiDocument } from "./openapi";
import { errorHandler, routeNotFound } from "./problem";
import { AppError } from "../shared/errors";
import { requestId } from "./request-id";
import type { Services } from "../services";

export type AppOptions = {
  bodyLimitBytes: number;
  workerInProcess: boolean;
  rateLimits?: { perKeyPerMinute: number; perAddressPerMinute: number };
  /** false: /metrics needs an admin key (CLAUSEGUARD_METRICS_PUBLIC=false). */
  metricsPublic?: boolean;
  /** Origins allowed to call the API from a browser (CLAUSEGUARD_CORS_ORIGINS); none: no CORS headers. */
  corsOrigins?: string[];
  /** Where the console's build is (default dist/console; tests point it elsewhere). */
  consoleDir?: string;
};

export function createApp(services: Services, options: AppOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  // Security headers (helmet's defaults: nosniff, frame denial, a strict CSP, HSTS, no referrer leaks).
  // upgrade-insecure-requests is left out: served over plain HTTP on a LAN address (the container),
  // it would send the console's and /docs' own scripts to https and break the pages.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  // No CORS headers unless origins are configured, so browsers keep other origins out.
  if (options.corsOrigins?.length) {
    app.use(cors({ origin: options.corsOrigins, allowedHeaders: ["Authorization", "Content-Type"], exposedHeaders: ["Retry-After", "X-Request-Id"], maxAge: 600 }));
  }
  const metrics = createMetrics({
    db: services.db,
    ruleQuality: async (from, to) => services.quality.all(await services.rules.ruleIds(), from, to),
    ...(options.workerInProcess ? { workerStats: services.worker.stats, ruleStats: services.evaluation.ruleStats, webhookStats: services.webhooks.stats } : {}),
  });
  app.use(requestId);
  // Every body the API reads may come gzip-, deflate- or brotli-compressed: body-parser inflates it, and its
  // size limits count the inflated bytes. The answers say so (Accept-Encoding, RFC 7694), and the
  // gateway's client compresses its batches once it has read it.
  app.use("/v1", (_req, res, next) => {
    res.setHeader("Accept-Encoding", "gzip, deflate, br");
    next();
  });
  app.use(metrics.timeRequests);
  app.use(
    pinoHttp({
      logger: services.logger,
      genReqId: (_req, res) => (res as express.Response).locals.requestId as string,
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : "info"),
      autoLogging: { ignore: (req) => req.url === "/healthz" || req.url === "/readyz" || req.url === "/metrics" },
      serializers: { req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }) },
    }),
  );
  for (const limiter of rateLimits(options.rateLimits ?? { perKeyPerMinute: 0, perAddressPerMinute: 0 })) app.use(limiter);
  app.use(createHealthRouter({ db: services.db, admission: services.admission, enforcementAgeMs: services.enforcement.ageMs, workerStats: options.workerInProcess ? services.worker.stats : undefined }));
  const metricsAccess: express.RequestHandler[] = options.metricsPublic === false ? [requireScope(services.apiKeys, "admin")] : [];
  app.get("/metrics", ...metricsAccess, async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  // The API's description, and Swagger UI for it (swagger-ui-dist's files, served from here).
  const document = openApiDocument(packageVersion());
  app.get("/openapi.json", (_req, res) => {
    res.json(document);
  });
  app.get("/docs", (_req, res) => {
    res.type("html").send(docsPage);
  });
  app.get("/docs/init.js", (_req, res) => {
    res.type("js").send(docsInit);
  });
  app.use("/docs", express.static(swaggerUiDist.getAbsoluteFSPath(), { index: false }));
  serveConsole(app, options.consoleDir ?? path.join(__dirname, "..", "..", "dist", "console"));
  app.use(createEventsRouter({ events: services.events, admission: services.admission, apiKeys: services.apiKeys, bodyLimitBytes: options.bodyLimitBytes, onIngested: metrics.countEvents }));
  app.use(createAccountsRouter({ accounts: services.accounts, apiKeys: services.apiKeys, bodyLimitBytes: options.bodyLimitBytes }));
  app.use(createCasesRouter({ cases: services.cases, workflow: services.workflow, apiKeys: services.apiKeys }));
  app.use(createStatementsRouter({ statements: services.statements, apiKeys: services.apiKeys }));
  app.use(createAppealsRouter({ appeals: services.appeals, apiKeys: services.apiKeys }));
  app.use(createIndicatorsRouter({ indicators: services.indicators, apiKeys: services.apiKeys, bodyLimitBytes: options.bodyLimitBytes }));
  app.use(createEvidenceRouter({ evidence: services.evidence, signingKeys: services.signingKeys, apiKeys: services.apiKeys }));
  app.use(createKeysRouter({ apiKeys: services.apiKeys }));
  app.use(createAuditRouter({ audit: services.audit, apiKeys: services.apiKeys }));
  app.use(createRulesRouter({ rules: services.rules, apiKeys: services.apiKeys, backtests: services.backtests, shadows: services.shadows, quality: services.quality }));
  app.use(createListsRouter({ lists: services.lists, apiKeys: services.apiKeys }));
  app.use(createSuppressionsRouter({ suppressions: services.suppressions, apiKeys: services.apiKeys }));
  app.use(routeNotFound);
  app.use(errorHandler(services.logger));
  return app;
}

/**
 * The analyst console: static files that `npm run build:console` (also run after `npm ci`) puts in
 * dist/console/, the same folder from src/api/app.ts and dist/api/app.js. It holds no data: every read goes
 * through the API with the analyst's key. File names under assets/ carry a content hash, so they
 * are cached for good; index.html never is.
 */
function serveConsole(app: Express, dir: string): void {
  const index = path.join(dir, "index.html");
  // Without strict routing this answers /console and /console/ alike; the page's asset URLs are absolute.
  app.get("/console", (_req, res, next) => {
    res.set("Cache-Control", "no-cache").sendFile(index, (err?: NodeJS.ErrnoException) => {
      if (err?.code === "ENOENT") next(new AppError("unavailable", "the console is not built: run `npm run build:console`"));
      else if (err) next(err);
    });
  });
  app.use("/console/assets", express.static(path.join(dir, "assets"), { index: false, immutable: true, maxAge: "365d", fallthrough: true }));
}

/** The package's version (package.json is two folders up from src/api/app.ts and from dist/api/app.js alike). */
function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}
