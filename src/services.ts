// The composition root: builds every service from the database, the config and the logger.
import type { Config } from "./config";
import type { Database } from "./db/database";
import type { Logger } from "./shared/logger";
import { ruleCompiler } from "./engine/rule-compiler";
import { createAccountService } from "./features/accounts/account-service";
import { createEnforcementSnapshot, enforcementSourceOf } from "./features/accounts/enforcement-snapshot";
import { createAuditQueries } from "./features/audit/audit-queries";
import { createApiKeyService } from "./features/auth/api-key-service";
import { createCaseQueries } from "./features/cases/case-queries";
import { createCaseWorkflow } from "./features/cases/case-workflow";
import { createEvaluationService } from "./features/evaluation/evaluation-service";
import { sqlEvaluationStore } from "./features/evaluation/evaluation-store";
import { createEvaluationWorker } from "./features/evaluation/evaluation-worker";
import { createPartitionLeases, partitionLeaseMs, sqlPartitionStore } from "./features/evaluation/partitions";
import { createEventService } from "./features/events/event-service";
import { type LinkPolicy, defaultLinkPolicy } from "./features/events/link-policy";
import { createBacklogSampler, createIngestAdmission } from "./features/events/ingest-admission";
import { backlogDepth } from "./features/evaluation/evaluation-queue";
import { createBacktestService } from "./features/rules/backtest";
import { createRuleRegistry } from "./features/rules/rule-registry";
import { createRuleService } from "./features/rules/rule-service";
import { createShadowService } from "./features/rules/shadow-service";
import { createRuleQuality } from "./features/rules/rule-quality";
import { createListService } from "./features/lists/list-service";
import { createListCatalog } from "./features/lists/list-catalog";
import { createSuppressionService } from "./features/suppressions/suppression-service";
import { createWebhookDispatcher, createWebhookOutbox } from "./features/webhooks/webhook-outbox";
import { type NoticeTemplates, builtInNotice, noticeTemplates } from "./features/statements/notice-templates";
import { createStatementIssuer, createStatementQueries } from "./features/statements/statement-service";
import { defaultAppealFilingDays } from "./features/statements/statement-model";
import { createAppealService } from "./features/appeals/appeal-service";
import { type SigningKeys, publicKeySet } from "./features/evidence/signing-keys";
import { createEvidenceService } from "./features/evidence/evidence-bundle";
import { createIndicatorService } from "./features/indicators/indicator-service";
import { defaultAppealDecisionDays } from "./features/appeals/appeal-model";

/**
 * `onStored`: what ingestion calls once events are stored; by default it wakes this process's worker.
 * `notice`: the statement templates (server.ts loads <rules dir>/notices); the built-in ones by default.
 * `signingKeys`: what evidence bundles are signed with (none: bundles answer 503).
 */
export function createServices(
  db: Database,
  config: Pick<Config, "evaluation" | "evaluator" | "webhooks" | "ingest"> & Partial<Pick<Config, "appeals" | "sharingPartners">>,
  logger: Logger,
  opts: { onStored?: () => void; linkPolicy?: LinkPolicy; notice?: NoticeTemplates; signingKeys?: SigningKeys } = {},
) {
  const linkPolicy = opts.linkPolicy ?? defaultLinkPolicy;
  const { hubLimits } = linkPolicy;
  const { prisma } = db;
  const outbox = createWebhookOutbox(config.webhooks);
  const webhooks = createWebhookDispatcher(db, config.webhooks, logger);
  const ruleService = createRuleService(db);
  // One evaluator for the process: live evaluation and backtests judge alike.
  const compile = ruleCompiler(config.evaluator);
  const lists = createListService(db);
  const suppressions = createSuppressionService(db);
  // The named lists the process's rules name, as Sets (list-catalog.ts).
  const ruleRegistry = createRuleRegistry(ruleService, logger, compile, 0, createListCatalog(db, logger));
  const evaluation = createEvaluationService({ store: sqlEvaluationStore(db, { hubLimits, outbox, partners: config.sharingPartners }), rules: ruleRegistry, logger, leaseMs: config.evaluation.leaseMs, cadence: config.evaluation.cadence });
  // The embedded database is one process's: it takes every partition at once, even after a crash.
  const partitions = createPartitionLeases(sqlPartitionStore(db), { leaseMs: partitionLeaseMs(config.evaluation.leaseMs), exclusive: db.kind === "pglite" });
  const worker = createEvaluationWorker({ evaluation, logger, pollMs: config.evaluation.pollMs, batchSize: config.evaluation.batchSize, partitions });
  const backlog = createBacklogSampler(() => backlogDepth(db, config.ingest.maxBacklog));
  const enforcement = createEnforcementSnapshot({ source: enforcementSourceOf(db) });
  const notice = opts.notice ?? noticeTemplates(builtInNotice);
  const statementIssuer = createStatementIssuer(notice, { appealFilingDays: config.appeals?.filingDays ?? defaultAppealFilingDays }, outbox);
  // The change is committed whatever happens here: a failed reload is logged, and the next
  // periodic one (a second later) shows it.
  const workflow = createCaseWorkflow(db, {
    statements: statementIssuer,
    outbox,
    onEnforcementChanged: () => enforcement.refresh().catch((err: unknown) => logger.warn({ err }, "enforcement snapshot not reloaded after a change; the next periodic reload shows it")),
    hubLimits,
  });
  return {
    db,
    logger,
    apiKeys: createApiKeyService(db, logger),
    audit: createAuditQueries(prisma),
    events: createEventService(db, { onStored: opts.onStored ?? (() => worker.nudge()), linkPolicy }),
    linkPolicy,
    enforcement,
    backlog,
    admission: createIngestAdmission(config.ingest, backlog.current),
    accounts: createAccountService(db, enforcement, hubLimits, suppressions),
    cases: createCaseQueries(prisma),
    workflow,
    appeals: createAppealService(db, { workflow, statements: statementIssuer, decisionDays: config.appeals?.decisionDays ?? defaultAppealDecisionDays }),
    statements: createStatementQueries(db),
    evidence: createEvidenceService(db, opts.signingKeys),
    indicators: createIndicatorService(db, config.sharingPartners ?? {}),
    signingKeys: publicKeySet(opts.signingKeys),
    webhooks,
    rules: ruleService,
    lists,
    suppressions,
    shadows: createShadowService(db, ruleService),
    quality: createRuleQuality(db),
    backtests: createBacktestService(db, compile, hubLimits, config.sharingPartners),
    ruleRegistry,
    evaluation,
    worker,
    partitions,
  };
}

export type Services = ReturnType<typeof createServices>;
