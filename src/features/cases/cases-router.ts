// HTTP for violation cases: GET /v1/cases (filters, cursor pagination) and GET /v1/cases/:id.
import { Router } from "express";
import { z } from "zod";
import { requireScope } from "../../http/auth";
import { paginationQuery } from "../../http/pagination";
import { parseOrThrow } from "../../http/parse";
import type { ApiKeyService } from "../auth/api-key-service";
import { type CaseQueries, caseStatuses, severities } from "./case-queries";

export const listCasesQuery = z.strictObject({
  status: z.enum(caseStatuses).optional(),
  severity: z.enum(severities).optional(),
  ruleId: z.string().min(1).max(128).optional(),
  accountId: z.string().min(1).max(128).optional(),
  assignee: z.string().min(1).max(200).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  ...paginationQuery,
});

const caseIdParam = z.object({ id: z.string().min(1).max(64) });

export function createCasesRouter(deps: { cases: CaseQueries; apiKeys: ApiKeyService }): Router {
  const router = Router();
  router.get("/v1/cases", requireScope(deps.apiKeys, "cases:read"), async (req, res) => {
    const q = parseOrThrow(listCasesQuery, req.query, "query");
    res.json(
      await deps.cases.listCases({ ...q, from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined }),
    );
  });
  router.get("/v1/cases/:id", requireScope(deps.apiKeys, "cases:read"), async (req, res) => {
    const { id } = parseOrThrow(caseIdParam, req.params, "params");
    res.json(await deps.cases.getCase(id));
  });
  return router;
}
