// HTTP for rules: list, read, versions, create, new version, validate, enable and disable.
import express, { Router } from "express";
import { z } from "zod";
import { type RuleDocument, ruleIdPattern, validateRule } from "../../engine/rule-schema";
import { validationFailed } from "../../errors";
import { actorOf, requireScope } from "../../http/auth";
import { paginationQuery } from "../../http/pagination";
import { parseOrThrow } from "../../http/parse";
import type { ApiKeyService } from "../auth/api-key-service";
import type { RuleService } from "./rule-service";

const ruleIdParam = z.object({ id: z.string().regex(ruleIdPattern, "must be a rule id (a slug)") });
const listRulesQuery = z.strictObject({ ...paginationQuery });

/** Room for a 64 KB rule and its whitespace: the validator, not the body parser, reports a rule that is too large. */
const bodyLimit = "256kb";

/** A rule document, or a 400 listing every fault with its JSON path inside the document. */
export function ruleFromBody(body: unknown): RuleDocument {
  const v = validateRule(body);
  if (!v.ok) throw validationFailed(v.errors, `the rule has ${v.errors.length} fault(s)`);
  return v.rule;
}

export function createRulesRouter(deps: { rules: RuleService; apiKeys: ApiKeyService }): Router {
  const router = Router();
  const read = requireScope(deps.apiKeys, "rules:read");
  const write = requireScope(deps.apiKeys, "rules:write");
  const json = express.json({ limit: bodyLimit });

  router.get("/v1/rules", read, async (req, res) => {
    res.json(await deps.rules.listRules(parseOrThrow(listRulesQuery, req.query, "query")));
  });
  router.post("/v1/rules/validate", read, json, (req, res) => {
    ruleFromBody(req.body);
    res.json({ valid: true });
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
    res.json({ items: await deps.rules.listVersions(id), nextCursor: null });
  });
  router.put("/v1/rules/:id", write, json, async (req, res) => {
    const { id } = parseOrThrow(ruleIdParam, req.params, "params");
    res.json(await deps.rules.updateRule(id, ruleFromBody(req.body), actorOf(res)));
  });
  for (const [action, enabled] of [["enable", true], ["disable", false]] as const) {
    router.post(`/v1/rules/:id/${action}`, write, async (req, res) => {
      const { id } = parseOrThrow(ruleIdParam, req.params, "params");
      res.json(await deps.rules.setEnabled(id, enabled, actorOf(res)));
    });
  }
  return router;
}
