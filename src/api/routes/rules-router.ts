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

export function createRulesRouter(deps: { rules: RuleService; apiKeys: ApiKeyService; backtests: BacktestService }): Router {
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
  for (const [action, enabled] of [["enable", true], ["disable", false]] as const) {
    router.post(`/v1/rules/:id/${action}`, write, async (req, res) => {
      const { id } = parseOrThrow(ruleIdParam, req.params, "params");
      res.json(await deps.rules.setEnabled(id, enabled, actorOf(res)));
    });
  }
  return router;
}
