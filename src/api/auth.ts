// Express middleware: authenticates the bearer key and checks one scope; the principal goes to res.locals.
import type { RequestHandler, Response } from "express";
import type { Scope } from "../features/auth/api-key";
import type { ApiKeyService, Principal } from "../features/auth/api-key-service";
import type { Actor } from "../features/audit/audit-log";

/** Authenticates the request and lets it through when its key holds any one of `anyOf`. */
export function requireScope(apiKeys: ApiKeyService, ...anyOf: Scope[]): RequestHandler {
  return async (req, res, next) => {
    const principal = await apiKeys.authenticate(req.get("authorization"));
    apiKeys.authorize(principal, ...anyOf);
    res.locals.principal = principal;
    next();
  };
}

export function principalOf(res: Response): Principal {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new Error("route has no requireScope in front of it");
  return p;
}

/** The audit identity of the request: its key and request id. */
export function actorOf(res: Response): Actor {
  return { actor: principalOf(res).actor, requestId: res.locals.requestId as string | undefined };
}
