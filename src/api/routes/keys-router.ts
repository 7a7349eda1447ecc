// HTTP for API keys (admin): list without secrets, create (the key is shown once), revoke.
import express, { Router } from "express";
import { z } from "zod";
import { actorOf, requireScope } from "../auth";
import { storable, unstorableMessage } from "../../engine/json-input";
import { parseOrThrow } from "../../shared/parse";
import { scopes } from "../../features/auth/api-key";
import type { ApiKeyService } from "../../features/auth/api-key-service";
import type { ApiKeyPage } from "../../features/auth/key-views";

// The database holds no year outside 1..9999.
const storableMoment = (s: string) => Date.parse(s) >= Date.parse("0001-01-01T00:00:00Z") && Date.parse(s) <= Date.parse("9999-12-31T23:59:59.999Z");

export const createKeyBody = z.strictObject({
  name: z.string().trim().min(1).max(200).refine(storable, unstorableMessage),
  scopes: z.array(z.enum(scopes)).min(1).max(scopes.length),
  expiresAt: z.iso.datetime({ offset: true, abort: true }).refine(storableMoment, "must be between the years 1 and 9999").optional(),
});

export const keyIdParam = z.object({ id: z.string().regex(/^[a-z0-9]{12}$/, "must be a key id (12 lower-case letters or digits)") });

export function createKeysRouter(deps: { apiKeys: ApiKeyService }): Router {
  const router = Router();
  const admin = requireScope(deps.apiKeys, "admin");
  router.get("/v1/keys", admin, async (_req, res) => {
    res.json({ items: await deps.apiKeys.listKeys(), nextCursor: null } satisfies ApiKeyPage);
  });
  router.post("/v1/keys", admin, express.json({ limit: "16kb" }), async (req, res) => {
    const body = parseOrThrow(createKeyBody, req.body ?? {}, "body");
    const created = await deps.apiKeys.createKey(
      { name: body.name, scopes: [...new Set(body.scopes)], expiresAt: body.expiresAt ? new Date(body.expiresAt) : undefined },
      actorOf(res),
    );
    res.status(201).json(created);
  });
  router.delete("/v1/keys/:id", admin, async (req, res) => {
    const { id } = parseOrThrow(keyIdParam, req.params, "params");
    await deps.apiKeys.revokeKey(id, actorOf(res));
    res.status(204).end();
  });
  return router;
}
