// HTTP for accounts: GET /v1/accounts/:id/enforcement, the gateway's fast path; the account view
// and its hourly usage series for analysts.
import express, { Router } from "express";
import { z } from "zod";
import { requireScope } from "../auth";
import { parseOrThrow, storableText } from "../../shared/parse";
import type { ApiKeyService } from "../../features/auth/api-key-service";
import { queryMoment } from "../../features/events/event-schemas";
import { batchItems } from "./events-router";
import type { AccountService } from "../../features/accounts/account-service";
import { parseProfileItems, profileBody } from "../../features/accounts/account-profile";
import type { ProfilesResult } from "../../features/accounts/account-views";

export const accountIdParam = z.object({ id: storableText(128) });

const hourMs = 3_600_000;
/** The longest usage series one request may ask for: 31 days of hours (744 points). */
export const maxUsageSpanMs = 31 * 24 * hourMs;

/** [from, to) of a usage series: `to` defaults to now, `from` to 7 days before `to`. */
function usageRange(q: { from?: string; to?: string }): { from: Date; to: Date } {
  const to = q.to ? new Date(q.to) : new Date();
  return { from: q.from ? new Date(q.from) : new Date(to.getTime() - 7 * 24 * hourMs), to };
}

export const usageQuery = z
  .strictObject({
    from: queryMoment.optional().describe("start of the series, in whole hours: the hour holding it is the first (default: 7 days before to)"),
    to: queryMoment.optional().describe("end of the series: the last hour is the last one starting before it (default: now)"),
  })
  .superRefine((q, ctx) => {
    const { from, to } = usageRange(q);
    if (from >= to) ctx.addIssue({ code: "custom", path: ["from"], message: "must be before to" });
    else if (to.getTime() - from.getTime() > maxUsageSpanMs) ctx.addIssue({ code: "custom", path: ["from"], message: "the range must be 31 days or less" });
  });

export function createAccountsRouter(deps: { accounts: AccountService; apiKeys: ApiKeyService; bodyLimitBytes?: number }): Router {
  const router = Router();
  const limit = deps.bodyLimitBytes ?? 10 * 1024 * 1024;
  // The provider's profile of one account: a field left out is kept, null clears it.
  router.put("/v1/accounts/:id", requireScope(deps.apiKeys, "accounts:write"), express.json({ limit: "64kb" }), async (req, res) => {
    const { id } = parseOrThrow(accountIdParam, req.params, "params");
    const change = parseOrThrow(profileBody, req.body ?? {}, "body");
    res.json(await deps.accounts.setProfiles([{ accountId: id, ...change }]).then((p) => p[0]));
  });
  // Many profiles at once (JSON array or NDJSON, up to 10,000): all or nothing.
  router.put(
    "/v1/accounts",
    requireScope(deps.apiKeys, "accounts:write"),
    express.json({ limit, type: ["application/json", "application/*+json"] }),
    express.text({ limit, type: ["application/x-ndjson", "application/ndjson"] }),
    async (req, res) => {
      const profiles = await deps.accounts.setProfiles(parseProfileItems(batchItems(req.body, "accounts")));
      res.json({ updated: profiles.length, items: profiles } satisfies ProfilesResult);
    },
  );
  // The gateway holds events:write; analysts hold cases:read. Either may ask.
  router.get("/v1/accounts/:id/enforcement", requireScope(deps.apiKeys, "events:write", "cases:read"), async (req, res) => {
    const { id } = parseOrThrow(accountIdParam, req.params, "params");
    res.json(deps.accounts.enforcementStatus(id));
  });
  router.get("/v1/accounts/:id", requireScope(deps.apiKeys, "cases:read"), async (req, res) => {
    const { id } = parseOrThrow(accountIdParam, req.params, "params");
    res.json(await deps.accounts.accountView(id, new Date()));
  });
  router.get("/v1/accounts/:id/usage", requireScope(deps.apiKeys, "cases:read"), async (req, res) => {
    const { id } = parseOrThrow(accountIdParam, req.params, "params");
    const { from, to } = usageRange(parseOrThrow(usageQuery, req.query, "query"));
    res.json(await deps.accounts.usageSeries(id, from, to));
  });
  return router;
}
