// HTTP for violation cases: GET /v1/cases (filters, cursor pagination) and GET /v1/cases/:id.
import express, { Router } from "express";
import { z } from "zod";
import { linkByParam } from "../../engine/fact-catalog";
import { parseWindow, windowMs } from "../../engine/window";
import { actorOf, requireScope } from "../auth";
import { paginationQuery } from "../../shared/pagination";
import { storable, unstorableMessage } from "../../engine/json-input";
import { parseOrThrow, storableText } from "../../shared/parse";
import type { ApiKeyService } from "../../features/auth/api-key-service";
import type { CaseQueries } from "../../features/cases/case-queries";
import { caseStatuses, enforcementActions, severities } from "../../features/cases/case-model";
import type { CaseWorkflow } from "../../features/cases/case-workflow";

export const listCasesQuery = z.strictObject({
  status: z.enum(caseStatuses).optional(),
  severity: z.enum(severities).optional(),
  ruleId: storableText(128).optional(),
  accountId: storableText(128).optional(),
  assignee: storableText(200).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  sort: z.enum(["activity", "severity"]).optional(),
  ...paginationQuery,
});

export const countCasesQuery = listCasesQuery.omit({ status: true, sort: true, limit: true, cursor: true });

/** A parsed filter query with its activity range as dates. */
const withDates = <Q extends { from?: string; to?: string }>(q: Q) => ({ ...q, from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined });

export const caseIdParam = z.object({ id: storableText(64) });
const note = z.string().trim().min(1).max(10_000).refine(storable, unstorableMessage);
export const transitionBody = z.strictObject({ to: z.enum(caseStatuses), note: note.optional() });
export const noteBody = z.strictObject({ note });
export const assignBody = z.strictObject({ assignee: z.string().trim().min(1).max(200).refine(storable, unstorableMessage).nullable() });
export const enforceBody = z.strictObject({
  action: z.enum(enforcementActions),
  note,
  includeLinked: z
    .strictObject({
      by: linkByParam,
      /** How far back a shared value links accounts (default 30d). */
      window: z.string().superRefine((text, ctx) => {
        const r = parseWindow(text);
        if (!r.ok) ctx.addIssue({ code: "custom", message: r.message });
      }).optional(),
    })
    .optional(),
});

export function createCasesRouter(deps: { cases: CaseQueries; workflow: CaseWorkflow; apiKeys: ApiKeyService }): Router {
  const router = Router();
  const write = requireScope(deps.apiKeys, "cases:write");
  const json = express.json({ limit: "64kb" });
  router.get("/v1/cases", requireScope(deps.apiKeys, "cases:read"), async (req, res) => {
    const q = parseOrThrow(listCasesQuery, req.query, "query");
    res.json(
      await deps.cases.listCases(withDates(q)),
    );
  });
  // Before /v1/cases/:id, which would take "counts" for an id.
  router.get("/v1/cases/counts", requireScope(deps.apiKeys, "cases:read"), async (req, res) => {
    const q = parseOrThrow(countCasesQuery, req.query, "query");
    res.json(await deps.cases.countCases(withDates(q)));
  });
  router.get("/v1/cases/:id", requireScope(deps.apiKeys, "cases:read"), async (req, res) => {
    const { id } = parseOrThrow(caseIdParam, req.params, "params");
    res.json(await deps.cases.getCase(id));
  });
  router.post("/v1/cases/:id/transitions", write, json, async (req, res) => {
    const { id } = parseOrThrow(caseIdParam, req.params, "params");
    const body = parseOrThrow(transitionBody, req.body ?? {}, "body");
    res.json(await deps.workflow.transition(id, body.to, body.note, actorOf(res)));
  });
  router.post("/v1/cases/:id/notes", write, json, async (req, res) => {
    const { id } = parseOrThrow(caseIdParam, req.params, "params");
    res.status(201).json(await deps.workflow.addNote(id, parseOrThrow(noteBody, req.body ?? {}, "body").note, actorOf(res)));
  });
  router.patch("/v1/cases/:id", write, json, async (req, res) => {
    const { id } = parseOrThrow(caseIdParam, req.params, "params");
    res.json(await deps.workflow.assign(id, parseOrThrow(assignBody, req.body ?? {}, "body").assignee, actorOf(res)));
  });
  router.post("/v1/cases/:id/enforce", write, json, async (req, res) => {
    const { id } = parseOrThrow(caseIdParam, req.params, "params");
    const body = parseOrThrow(enforceBody, req.body ?? {}, "body");
    const includeLinked = body.includeLinked && { by: body.includeLinked.by, windowMs: windowMs(body.includeLinked.window ?? "30d") };
    res.json(await deps.workflow.enforce(id, { action: body.action, note: body.note, includeLinked }, actorOf(res)));
  });
  return router;
}
