// HTTP for indicator exchange: a STIX 2.1 bundle of indicators for a sharing partner (cases:read),
// and a partner's bundle imported as a named source (rules:write: it changes what rules can see).
import express, { Router } from "express";
import { z } from "zod";
import { requireScope } from "../auth";
import { parseOrThrow, storableText } from "../../shared/parse";
import type { ApiKeyService } from "../../features/auth/api-key-service";
import type { IndicatorService } from "../../features/indicators/indicator-service";

const partnerName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "must be a partner name of CLAUSEGUARD_SHARING_PARTNERS");
const moment = z.iso.datetime({ offset: true });

export const exportIndicatorsQuery = z
  .strictObject({
    partner: partnerName.describe("the sharing partner the bundle is for: its secret keys the hashes"),
    caseId: storableText(64).optional().describe("one case (confirmed, enforced or resolved)"),
    ruleId: storableText(128).optional().describe("every confirmed, enforced or resolved case of this rule active in [from, to)"),
    from: moment.optional(),
    to: moment.optional(),
  })
  .superRefine((q, ctx) => {
    if (q.caseId && (q.ruleId || q.from || q.to)) ctx.addIssue({ code: "custom", path: ["caseId"], message: "give caseId, or ruleId with from and to, not both" });
    if (!q.caseId) {
      for (const f of ["ruleId", "from", "to"] as const) if (!q[f]) ctx.addIssue({ code: "custom", path: [f], message: "is required without caseId" });
      if (q.from && q.to && Date.parse(q.from) >= Date.parse(q.to)) ctx.addIssue({ code: "custom", path: ["from"], message: "must be before to" });
    }
  });
export const importIndicatorsQuery = z.strictObject({ source: partnerName.describe("the sharing partner the bundle comes from") });

export function createIndicatorsRouter(deps: { indicators: IndicatorService; apiKeys: ApiKeyService; bodyLimitBytes?: number }): Router {
  const router = Router();
  router.get("/v1/indicators", requireScope(deps.apiKeys, "cases:read"), async (req, res) => {
    const q = parseOrThrow(exportIndicatorsQuery, req.query, "query");
    const selection = q.caseId ? { caseId: q.caseId } : { ruleId: q.ruleId!, from: new Date(q.from!), to: new Date(q.to!) };
    res.json(await deps.indicators.exportBundle(q.partner, selection));
  });
  router.post(
    "/v1/indicators/import",
    requireScope(deps.apiKeys, "rules:write"),
    express.json({ limit: deps.bodyLimitBytes ?? 10 * 1024 * 1024, type: ["application/json", "application/stix+json"] }),
    async (req, res) => {
      const { source } = parseOrThrow(importIndicatorsQuery, req.query, "query");
      res.json(await deps.indicators.importBundle(source, req.body));
    },
  );
  return router;
}
