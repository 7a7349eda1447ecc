// HTTP for statements of reasons: an account's statements, newest first, and one statement, for the
// provider's customer portal (statements:read) and for analysts (cases:read).
import { Router } from "express";
import { z } from "zod";
import { requireScope } from "../auth";
import { paginationQuery } from "../../shared/pagination";
import { parseOrThrow, storableText } from "../../shared/parse";
import type { ApiKeyService } from "../../features/auth/api-key-service";
import type { StatementQueries } from "../../features/statements/statement-service";
import { accountIdParam } from "./accounts-router";

export const statementIdParam = z.object({ id: storableText(64) });
export const listStatementsQuery = z.strictObject({ ...paginationQuery });

export function createStatementsRouter(deps: { statements: StatementQueries; apiKeys: ApiKeyService }): Router {
  const router = Router();
  const read = requireScope(deps.apiKeys, "statements:read", "cases:read");
  router.get("/v1/accounts/:id/statements", read, async (req, res) => {
    const { id } = parseOrThrow(accountIdParam, req.params, "params");
    res.json(await deps.statements.listForAccount(id, parseOrThrow(listStatementsQuery, req.query, "query")));
  });
  router.get("/v1/statements/:id", read, async (req, res) => {
    const { id } = parseOrThrow(statementIdParam, req.params, "params");
    res.json(await deps.statements.get(id));
  });
  return router;
}
