// GET /v1/audit (admin): the append-only audit log. There is no route that changes it.
import { Router } from "express";
import { requireScope } from "../auth";
import { parseOrThrow } from "../../shared/parse";
import type { ApiKeyService } from "../../features/auth/api-key-service";
import { type AuditQueries, auditQuery } from "../../features/audit/audit-queries";

export function createAuditRouter(deps: { audit: AuditQueries; apiKeys: ApiKeyService }): Router {
  const router = Router();
  router.get("/v1/audit", requireScope(deps.apiKeys, "admin"), async (req, res) => {
    const q = parseOrThrow(auditQuery, req.query, "query");
    res.json(await deps.audit.list(q));
  });
  return router;
}
