// A tiny gateway in front of a (fake) model endpoint, with ClauseGuard in its request path:
// suspended and restricted accounts are refused before the model is called, and every served
// request's usage is tracked after its answer is sent. Run by test/client.e2e.test.ts; copy the
// middleware into a real gateway. Express is the example's, not the client's, dependency.
import { randomUUID } from "node:crypto";
import express, { type NextFunction, type Request, type Response } from "express";
import type { ClauseGuardClient } from "../src/index";

/** What the model endpoint leaves for the middleware to track. */
type Usage = { model: string; inputTokens: number; outputTokens: number; promptTemplateHash?: string };

/** Asks ClauseGuard before the request goes on, and tracks the usage the handler recorded once the answer is sent. */
export function clauseguardMiddleware(clauseguard: ClauseGuardClient, accountOf: (req: Request) => string | undefined) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const accountId = accountOf(req);
    if (!accountId) {
      res.status(401).json({ error: "no account" });
      return;
    }
    const enforcement = await clauseguard.enforcement(accountId);
    if (enforcement.status !== "active") {
      res.status(403).json({ error: `account ${enforcement.status}`, caseIds: enforcement.caseIds });
      return;
    }
    res.on("finish", () => {
      const usage = res.locals.usage as Usage | undefined;
      if (!usage || res.statusCode >= 400) return;
      clauseguard.track({
        eventId: randomUUID(),
        occurredAt: new Date().toISOString(),
        accountId,
        ip: req.socket.remoteAddress ?? null,
        endpoint: req.path,
        ...usage,
      });
    });
    next();
  };
}

/**
 * The gateway: POST /v1/chat answers from a fake model and records its usage; with a webhook
 * secret, POST /webhooks/clauseguard takes ClauseGuard's signed webhooks (the raw body: the
 * signature is over it) and forgets the enforcement of the accounts they name.
 */
export function createGateway(clauseguard: ClauseGuardClient, webhookSecret?: string) {
  const app = express();
  if (webhookSecret) {
    app.post("/webhooks/clauseguard", express.text({ type: "application/json", limit: "1mb" }), (req: Request, res: Response) => {
      const r = clauseguard.handleWebhook({ body: String(req.body), timestamp: req.header("x-clauseguard-timestamp"), signature: req.header("x-clauseguard-signature") }, webhookSecret);
      res.status(r.ok ? 204 : 401).end();
    });
  }
  app.use(express.json({ limit: "1mb" }));
  app.post(
    "/v1/chat",
    clauseguardMiddleware(clauseguard, (req) => req.header("x-account-id")),
    (req: Request, res: Response) => {
      const prompt = String((req.body as { prompt?: unknown })?.prompt ?? "");
      const output = `echo: ${prompt}`;
      res.locals.usage = { model: "frontier-large", inputTokens: prompt.length, outputTokens: output.length } satisfies Usage;
      res.json({ output });
    },
  );
  return app;
}
