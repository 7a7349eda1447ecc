// HTTP for accounts: GET /v1/accounts/:id/enforcement, the gateway's fast path.
import { Router } from "express";
import { z } from "zod";
import { requireScope } from "../../http/auth";
import { parseOrThrow, storableText } from "../../http/parse";
import type { ApiKeyService } from "../auth/api-key-service";
import type { AccountService } from "./account-service";

export const accountIdParam = z.object({ id: storableText(128) });

export function createAccountsRouter(deps: { accounts: AccountService; apiKeys: ApiKeyService }): Router {
  const router = Router();
  // The gateway holds events:write; analysts hold cases:read. Either may ask.
  router.get("/v1/accounts/:id/enforcement", requireScope(deps.apiKeys, "events:write", "cases:read"), async (req, res) => {
    const { id } = parseOrThrow(accountIdParam, req.params, "params");
    res.json(await deps.accounts.enforcementStatus(id));
  });
  router.get("/v1/accounts/:id", requireScope(deps.apiKeys, "cases:read"), async (req, res) => {
    const { id } = parseOrThrow(accountIdParam, req.params, "params");
    res.json(await deps.accounts.accountView(id, new Date()));
  });
  return router;
}
