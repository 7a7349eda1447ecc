// HTTP for allow entries and snoozes: analysts make them (cases:write) with a reason and an end,
// and read them (cases:read). A snooze may be set from a case: its account and rule.
import express, { Router } from "express";
import { z } from "zod";
import { actorOf, requireScope } from "../auth";
import { storable, unstorableMessage } from "../../engine/json-input";
import { ruleIdPattern } from "../../engine/rule-schema";
import { queryMoment } from "../../features/events/event-schemas";
import { paginationQuery } from "../../shared/pagination";
import { parseOrThrow, storableText } from "../../shared/parse";
import type { ApiKeyService } from "../../features/auth/api-key-service";
import { type SuppressionService, checkEnd } from "../../features/suppressions/suppression-service";
import { allowKinds } from "../../features/suppressions/suppression-views";
import { caseIdParam } from "./cases-router";

const text = (max: number) => z.string().trim().min(1).max(max).refine(storable, unstorableMessage);
const ruleId = z.string().regex(ruleIdPattern, "must be a rule id (a slug)");
const boolText = z.enum(["true", "false"]).transform((s) => s === "true");

export const suppressionIdParam = z.object({ id: storableText(64) });
export const allowBody = z.strictObject({
  kind: z.enum(allowKinds),
  value: text(512),
  /** Absent or null: every rule. */
  ruleId: ruleId.nullable().optional(),
  reason: text(2000),
  expiresAt: queryMoment,
});
export const listAllowQuery = z.strictObject({ kind: z.enum(allowKinds).optional(), value: storableText(512).optional(), ruleId: ruleId.optional(), active: boolText.optional(), ...paginationQuery });
export const snoozeBody = z.strictObject({ ruleId, accountId: storableText(128), until: queryMoment, reason: text(2000) });
export const caseSnoozeBody = z.strictObject({ until: queryMoment, reason: text(2000) });
export const listSnoozesQuery = z.strictObject({ accountId: storableText(128).optional(), ruleId: ruleId.optional(), active: boolText.optional(), ...paginationQuery });

export function createSuppressionsRouter(deps: { suppressions: SuppressionService; apiKeys: ApiKeyService }): Router {
  const router = Router();
  const read = requireScope(deps.apiKeys, "cases:read");
  const write = requireScope(deps.apiKeys, "cases:write");
  const json = express.json({ limit: "16kb" });
  router.post("/v1/allow-entries", write, json, async (req, res) => {
    const body = parseOrThrow(allowBody, req.body ?? {}, "body");
    const expiresAt = new Date(body.expiresAt);
    checkEnd(expiresAt, "body.expiresAt");
    res.status(201).json(await deps.suppressions.allow({ ...body, expiresAt }, actorOf(res)));
  });
  router.get("/v1/allow-entries", read, async (req, res) => {
    res.json(await deps.suppressions.listAllow(parseOrThrow(listAllowQuery, req.query, "query")));
  });
  router.delete("/v1/allow-entries/:id", write, async (req, res) => {
    res.json(await deps.suppressions.revokeAllow(parseOrThrow(suppressionIdParam, req.params, "params").id, actorOf(res)));
  });
  router.post("/v1/snoozes", write, json, async (req, res) => {
    const body = parseOrThrow(snoozeBody, req.body ?? {}, "body");
    const until = new Date(body.until);
    checkEnd(until, "body.until");
    res.status(201).json(await deps.suppressions.snooze({ ...body, until }, actorOf(res)));
  });
  router.get("/v1/snoozes", read, async (req, res) => {
    res.json(await deps.suppressions.listSnoozes(parseOrThrow(listSnoozesQuery, req.query, "query")));
  });
  router.delete("/v1/snoozes/:id", write, async (req, res) => {
    res.json(await deps.suppressions.cancelSnooze(parseOrThrow(suppressionIdParam, req.params, "params").id, actorOf(res)));
  });
  router.post("/v1/cases/:id/snooze", write, json, async (req, res) => {
    const { id } = parseOrThrow(caseIdParam, req.params, "params");
    const body = parseOrThrow(caseSnoozeBody, req.body ?? {}, "body");
    const until = new Date(body.until);
    checkEnd(until, "body.until");
    res.status(201).json(await deps.suppressions.snoozeCase(id, { ...body, until }, actorOf(res)));
  });
  return router;
}
