// HTTP for signed evidence: a case's evidence bundle for analysts (cases:read), and the public keys
// that verify bundles, open to anyone (they are public).
import { Router } from "express";
import { requireScope } from "../auth";
import { parseOrThrow } from "../../shared/parse";
import type { ApiKeyService } from "../../features/auth/api-key-service";
import type { EvidenceService } from "../../features/evidence/evidence-bundle";
import type { SigningKeySet } from "../../features/evidence/evidence-views";
import { caseIdParam } from "./cases-router";

export function createEvidenceRouter(deps: { evidence: EvidenceService; signingKeys: SigningKeySet; apiKeys: ApiKeyService }): Router {
  const router = Router();
  router.get("/v1/cases/:id/evidence-bundle", requireScope(deps.apiKeys, "cases:read"), async (req, res) => {
    const { id } = parseOrThrow(caseIdParam, req.params, "params");
    res.json(await deps.evidence.bundle(id));
  });
  router.get("/v1/signing-keys", (_req, res) => {
    res.json(deps.signingKeys);
  });
  return router;
}
