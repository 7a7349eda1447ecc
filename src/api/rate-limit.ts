// Rate limits with express-rate-limit: per credential (the Authorization header, hashed: a wrong
// secret counts apart from the real key, so nobody can use up another's allowance) and per client
// address. Fixed one-minute windows, counted in this process's memory (each process of a
// scaled-out deployment counts on its own). Over a limit: 429 problem+json with Retry-After.
import { createHash } from "node:crypto";
import type { RequestHandler } from "express";
import { rateLimit } from "express-rate-limit";
import { AppError } from "../shared/errors";
import { sendProblem } from "./problem";

const open = new Set(["/healthz", "/readyz", "/metrics"]);

export function rateLimits(limits: { perKeyPerMinute: number; perAddressPerMinute: number }): RequestHandler[] {
  const handlers: RequestHandler[] = [];
  const limited = (what: string, limit: number): RequestHandler => (req, res) => {
    const reset = (req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
    res.setHeader("Retry-After", String(Math.max(1, Math.ceil(((reset?.getTime() ?? Date.now() + 60_000) - Date.now()) / 1000))));
    sendProblem(res, new AppError("rate_limited", `more than ${limit} requests a minute ${what}; retry after the time in Retry-After`));
  };
  const common = { windowMs: 60_000, standardHeaders: "draft-8" as const, legacyHeaders: false, validate: { xForwardedForHeader: false } };
  if (limits.perAddressPerMinute > 0) {
    handlers.push(
      rateLimit({ ...common, limit: limits.perAddressPerMinute, skip: (req) => open.has(req.path), handler: limited("from this address", limits.perAddressPerMinute) }),
    );
  }
  if (limits.perKeyPerMinute > 0) {
    handlers.push(
      rateLimit({
        ...common,
        limit: limits.perKeyPerMinute,
        skip: (req) => open.has(req.path) || !req.headers.authorization,
        keyGenerator: (req) => createHash("sha256").update(req.headers.authorization ?? "").digest("base64url"),
        handler: limited("with this API key", limits.perKeyPerMinute),
      }),
    );
  }
  return handlers;
}
