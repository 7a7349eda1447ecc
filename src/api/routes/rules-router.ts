// HTTP for rules: list, read, versions, create, new version, validate, enable and disable.
import express, { Router } from "express";
import { z } from "zod";
import { type RuleDocument, ruleIdPattern, validateRule } from "../../engine/rule-schema";
import { validationFailed } from "../../shared/errors";
import { actorOf, requireScope } from "../auth";
import { paginationQuery } from "../../shared/pagination";
import { parseOrThrow } from "../../shared/parse";
import type { ApiKeyService } from "../../features/auth/api-key-service";
import type { BacktestService } from "../../features/rules/backtest";
import type { RuleService } from "../../features/rules/rule-service";
import type { BacktestStreamLine, RuleValid, RuleVersionPage } from "../../features/rules/rule-views";
import type { ShadowService } from "../../features/rules/shadow-service";
import type { RuleQuality } from "../../features/rules/rule-quality";
import type { QualityStatsPage } from "../../features/rules/lifecycle-views";
import { queryMoment } from "../../features/events/event-schemas";
import { storable, unstorableMessage } from "../../engine/json-input";
import { storableText } from "../../shared/parse";

const maxBacktestRangeMs = 92 * 86_400_000;

const backtestRange = {
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
};
const checkRange = (b: { from: string; to: string }, ctx: z.RefinementCtx) => {
  const span = Date.parse(b.to) - Date.parse(b.from);
  if (!(span > 0)) ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
  else if (span > maxBacktestRangeMs) ctx.addIssue({ code: "custom", path: ["to"], message: "the range is at most 92 days" });
};
export const backtestBody = z.strictObject({ ...backtestRange, version: z.number().int().min(1).optional() }).superRefine(checkRange);
export const backtestDocumentBody = z.strictObject({ ...backtestRange, rule: z.unknown() }).superRefine(checkRange);

export const ruleIdParam = z.object({ id: z.string().regex(ruleIdPattern, "must be a rule id (a slug)") });
export const listRulesQuery = z.strictObject({ ...paginationQuery });

/** Room for a 64 KB rule and its whitespace: the validator, not the body parser, reports a rule that is too large. */
const bodyLimit = "256kb";

/** A rule document, or a 400 listing every fault with its JSON path inside the document. */
export function ruleFromBody(body: unknown): RuleDocument {
  const v = validateRule(body);
  if (!v.ok) throw validationFailed(v.errors, `the rule has ${v.errors.length} fault(s)`);
  return v.rule;
}

export const shadowBody = z.strictObject({
  version: z.number().int().min(1),
  /** It stops being evaluated then; absent: until stopped. */
  endsAt: queryMoment.optional(),
});
export const promoteBody = z.strictObject({ reason: z.string().trim().min(1).max(2000).refine(storable, unstorableMessage) });
const dayMs = 86_400_000;
/** A period of at most 366 days; `from` defaults to 30 days before `to`, `to` to now. */
export const periodQuery = z
  .strictObject({ from: queryMoment.optional(), to: queryMoment.optional() })
  .superRefine((q, ctx) => {
    const { from, to } = periodOf(q);
    if (from >= to) ctx.addIssue({ code: "custom", path: ["from"], message: "must be before to" });
    else if (to.getTime() - from.getTime() > 366 * dayMs) ctx.addIssue({ code: "custom", path: ["from"], message: "the period is at most 366 days" });
  });
export function periodOf(q: { from?: string; to?: string }): { from: Date; to: Date } {
  const to = q.to ? new Date(q.to) : new Date();
  return { from: q.from ? new Date(q.from) : new Date(to.getTime() - 30 * dayMs), to };
}
export const shadowReportQuery = z.strictObject({
  from: queryMoment.optional().describe("hits of events that occurred from then (default: unbounded)"),
  to: queryMoment.optional().describe("up to and including then, as a backtest's range (default: unbounded)"),
  shadowId: storableText(64).optional().describe("an earlier shadow of the rule (default: the running one, else the newest)"),
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe("accounts listed per group"),
});

export function createRulesRouter(deps: { rules: RuleService; apiKeys: ApiKeyService; backtests: BacktestService; shadows: ShadowService; quality: RuleQuality }): Router {
  const router = Router();
  const read = requireScope(deps.apiKeys, "rules:read");
  const write = requireScope(deps.apiKeys, "rules:write");
  const json = express.json({ limit: bodyLimit });

  router.get("/v1/rules", read, async (req, res) => {
    res.json(await deps.rules.listRules(parseOrThrow(listRulesQuery, req.query, "query")));
  });
  router.post("/v1/rules/validate", read, json, (req, res) => {
    ruleFromBody(req.body);
    res.json({ valid: true } satisfies RuleValid);
  });
  router.post("/v1/rules", write, json, async (req, res) => {
    res.status(201).json(await deps.rules.createRule(ruleFromBody(req.body), actorOf(res)));
  });
  router.get("/v1/rules/:id", read, async (req, res) => {
    const { id } = parseOrThrow(ruleIdParam, req.params, "params");
    res.json(await deps.rules.ruleView(id));
  });
  router.get("/v1/rules/:id/versions", read, async (req, res) => {
    const { id } = parseOrThrow(ruleIdParam, req.params, "params");
    res.json({ items: await deps.rules.listVersions(id), nextCursor: null } satisfies RuleVersionPage);
  });
  router.put("/v1/rules/:id", write, json, async (req, res) => {
    const { id } = parseOrThrow(ruleIdParam, req.params, "params");
    res.json(await deps.rules.updateRule(id, ruleFromBody(req.body), actorOf(res)));
  });
  /** Answers JSON, or with Accept: application/x-ndjson a progress line a second and the result last. */
  const backtest = async (req: express.Request, res: express.Response, rule: RuleDocument, version: number | null, from: Date, to: Date) => {
    const streaming = req.accepts(["application/json", "application/x-ndjson"]) === "application/x-ndjson";
    if (!streaming) {
      res.json(await deps.backtests.run({ rule, version, from, to }));
      return;
    }
    res.status(200).type("application/x-ndjson");
    res.flushHeaders();
    const result = await deps.backtests.run({ rule, version, from, to }, {
      onProgress: (p) => res.write(`${JSON.stringify({ type: "progress", ...p } satisfies BacktestStreamLine)}\n`),
    });
    res.end(`${JSON.stringify({ type: "result", ...result } satisfies BacktestStreamLine)}\n`);
  };
  router.post("/v1/rules/backtest", read, json, async (req, res) => {
    const body = parseOrThrow(backtestDocumentBody, req.body ?? {}, "body");
    const v = validateRule(body.rule);
    if (!v.ok) throw validationFailed(v.errors.map((e) => ({ ...e, path: e.path ? `body.rule.${e.path}` : "body.rule" })));
    await backtest(req, res, v.rule, null, new Date(body.from), new Date(body.to));
  });
  router.post("/v1/rules/:id/backtest", read, json, async (req, res) => {
    const { id } = parseOrThrow(ruleIdParam, req.params, "params");
    const body = parseOrThrow(backtestBody, req.body ?? {}, "body");
    const { rule, version } = await deps.rules.ruleVersion(id, body.version);
    await backtest(req, res, rule, version, new Date(body.from), new Date(body.to));
  });
  // A candidate version: stored, not made current (to run in shadow, then promote).
  router.post("/v1/rules/:id/versions", write, json, async (req, res) => {
    const { id } = parseOrThrow(ruleIdParam, req.params, "params");
    res.status(201).json(await deps.rules.addCandidate(id, ruleFromBody(req.body), actorOf(res)));
  });
  router.post("/v1/rules/:id/shadow", write, json, async (req, res) => {
    const { id } = parseOrThrow(ruleIdParam, req.params, "params");
    const body = parseOrThrow(shadowBody, req.body ?? {}, "body");
    res.status(201).json(await deps.shadows.start(id, { version: body.version, ...(body.endsAt ? { endsAt: new Date(body.endsAt) } : {}) }, actorOf(res)));
  });
  router.get("/v1/rules/:id/shadow", read, async (req, res) => {
    res.json(await deps.shadows.get(parseOrThrow(ruleIdParam, req.params, "params").id));
  });
  router.delete("/v1/rules/:id/shadow", write, async (req, res) => {
    res.json(await deps.shadows.stop(parseOrThrow(ruleIdParam, req.params, "params").id, actorOf(res)));
  });
  router.get("/v1/rules/:id/shadow/report", read, async (req, res) => {
    const { id } = parseOrThrow(ruleIdParam, req.params, "params");
    const q = parseOrThrow(shadowReportQuery, req.query, "query");
    res.json(await deps.shadows.report(id, { ...q, from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined }));
  });
  router.post("/v1/rules/:id/shadow/promote", write, json, async (req, res) => {
    const { id } = parseOrThrow(ruleIdParam, req.params, "params");
    res.json(await deps.shadows.promote(id, parseOrThrow(promoteBody, req.body ?? {}, "body"), actorOf(res)));
  });
  router.get("/v1/rules/:id/stats", read, async (req, res) => {
    const { id } = parseOrThrow(ruleIdParam, req.params, "params");
    const { from, to } = periodOf(parseOrThrow(periodQuery, req.query, "query"));
    await deps.rules.ruleView(id);
    res.json(await deps.quality.stats(id, from, to));
  });
  router.get("/v1/rule-stats", read, async (req, res) => {
    const { from, to } = periodOf(parseOrThrow(periodQuery, req.query, "query"));
    const ids = await deps.rules.ruleIds();
    res.json({ from: from.toISOString(), to: to.toISOString(), items: await deps.quality.all(ids, from, to) } satisfies QualityStatsPage);
  });
  for (const [action, enabled] of [["enable", true], ["disable", false]] as const) {
    router.post(`/v1/rules/:id/${action}`, write, async (req, res) => {
      const { id } = parseOrThrow(ruleIdParam, req.params, "params");
      res.json(await deps.rules.setEnabled(id, enabled, actorOf(res)));
    });
  }
  return router;
}
