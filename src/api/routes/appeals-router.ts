// HTTP for appeals: the provider's portal files one on a holder's behalf (appeals:write) and may
// follow it; analysts list the queue, count it, and review and decide (cases:read, cases:write).
import express, { Router } from "express";
import { z } from "zod";
import { actorOf, requireScope } from "../auth";
import { storable, unstorableMessage } from "../../engine/json-input";
import { paginationQuery } from "../../shared/pagination";
import { parseOrThrow, storableText } from "../../shared/parse";
import type { ApiKeyService } from "../../features/auth/api-key-service";
import type { AppealService } from "../../features/appeals/appeal-service";
import { appealStatuses, caseOutcomes, maxAttachments, maxExplanationLength } from "../../features/appeals/appeal-model";

const text = (max: number) => z.string().trim().min(1).max(max).refine(storable, unstorableMessage);

export const appealIdParam = z.object({ id: storableText(64) });
export const submitAppealBody = z.strictObject({
  statementId: storableText(64),
  /** The holder's explanation, in their words. */
  explanation: text(maxExplanationLength),
  /** References to what the holder attached (a link, a file id in the portal): never the files. */
  attachments: z.array(z.strictObject({ name: text(200), ref: text(2000) })).max(maxAttachments).default([]),
});
export const appealTransitionBody = z.strictObject({
  to: z.enum(appealStatuses),
  note: text(10_000).optional(),
  caseOutcome: z.enum(caseOutcomes).optional(),
});
export const listAppealsQuery = z.strictObject({
  status: z.enum(appealStatuses).optional(),
  overdue: z.enum(["true", "false"]).optional(),
  accountId: storableText(128).optional(),
  ...paginationQuery,
});

export function createAppealsRouter(deps: { appeals: AppealService; apiKeys: ApiKeyService }): Router {
  const router = Router();
  const json = express.json({ limit: "64kb" });
  router.post("/v1/appeals", requireScope(deps.apiKeys, "appeals:write"), json, async (req, res) => {
    const body = parseOrThrow(submitAppealBody, req.body ?? {}, "body");
    res.status(201).json(await deps.appeals.submit(body, actorOf(res)));
  });
  router.get("/v1/appeals", requireScope(deps.apiKeys, "cases:read"), async (req, res) => {
    const q = parseOrThrow(listAppealsQuery, req.query, "query");
    res.json(await deps.appeals.list({ ...q, overdue: q.overdue === undefined ? undefined : q.overdue === "true" }));
  });
  // Before /v1/appeals/:id, which would take "counts" for an id.
  router.get("/v1/appeals/counts", requireScope(deps.apiKeys, "cases:read"), async (_req, res) => {
    res.json(await deps.appeals.counts());
  });
  router.get("/v1/appeals/:id", requireScope(deps.apiKeys, "cases:read", "appeals:write"), async (req, res) => {
    const { id } = parseOrThrow(appealIdParam, req.params, "params");
    res.json(await deps.appeals.get(id));
  });
  router.post("/v1/appeals/:id/transitions", requireScope(deps.apiKeys, "cases:write"), json, async (req, res) => {
    const { id } = parseOrThrow(appealIdParam, req.params, "params");
    res.json(await deps.appeals.move(id, parseOrThrow(appealTransitionBody, req.body ?? {}, "body"), actorOf(res)));
  });
  return router;
}
