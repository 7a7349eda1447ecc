// HTTP for usage events: POST /v1/events (JSON array or NDJSON) and GET /v1/events.
import express, { type RequestHandler, Router } from "express";
import { z } from "zod";
import { AppError } from "../../errors";
import { requireScope } from "../../http/auth";
import { paginationQuery } from "../../http/pagination";
import { parseOrThrow } from "../../http/parse";
import type { ApiKeyService } from "../auth/api-key-service";
import { queryMoment, queryText } from "./event-schemas";
import { type EventService, ParseFailure } from "./event-service";
import { type IngestAdmission, isRefusal } from "./ingest-admission";

export const listEventsQuery = z.strictObject({
  accountId: queryText(128).optional(),
  /** Only these events (repeat the parameter, up to 50): a case's evidence names the events it was computed from. */
  eventId: z.union([queryText(128), z.array(queryText(128)).min(1).max(50)]).optional(),
  from: queryMoment.optional(),
  to: queryMoment.optional(),
  ...paginationQuery,
});

/** Splits an NDJSON body into items; a line that is not JSON becomes a ParseFailure for that index only. */
export function parseNdjson(text: string): unknown[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((line) => {
      try {
        return JSON.parse(line) as unknown;
      } catch (err) {
        return new ParseFailure(`line is not valid JSON: ${(err as Error).message}`);
      }
    });
}

/**
 * Admission control in front of the body parsers (see ingest-admission.ts). A refused request's
 * body is still read to its end before the 503 goes out, so the client gets an answer on an open
 * connection rather than a reset while it is still sending.
 */
function admit(admission: IngestAdmission): RequestHandler {
  return async (req, res, next) => {
    const decision = await admission.enter();
    if (!isRefusal(decision)) {
      res.once("close", () => decision.release());
      return next();
    }
    const refuse = () => next(new AppError("unavailable", decision.message, undefined, { reason: decision.reason, retryAfterSeconds: decision.retryAfterSeconds }));
    if (req.readableEnded) return refuse();
    req.once("end", refuse);
    req.once("error", () => {});
    req.resume();
  };
}

export function createEventsRouter(deps: {
  events: EventService;
  admission: IngestAdmission;
  apiKeys: ApiKeyService;
  bodyLimitBytes: number;
  onIngested?: (r: { accepted: number; duplicates: number; rejected: number }) => void;
}): Router {
  const router = Router();
  router.post(
    "/v1/events",
    requireScope(deps.apiKeys, "events:write"),
    admit(deps.admission),
    express.json({ limit: deps.bodyLimitBytes, type: ["application/json", "application/*+json"] }),
    express.text({ limit: deps.bodyLimitBytes, type: ["application/x-ndjson", "application/ndjson"] }),
    async (req, res) => {
      let items: unknown[];
      if (typeof req.body === "string") items = parseNdjson(req.body);
      else if (Array.isArray(req.body)) items = req.body;
      else if (req.body === undefined) {
        throw new AppError("unsupported_media_type", "send Content-Type: application/json (an array of events) or application/x-ndjson");
      } else throw new AppError("validation_failed", "the body must be a JSON array of events", [{ path: "", message: "expected an array" }]);
      const result = await deps.events.ingest(items);
      deps.onIngested?.({ accepted: result.accepted, duplicates: result.duplicates, rejected: result.rejected.length });
      res.status(202).json(result);
    },
  );
  router.get("/v1/events", requireScope(deps.apiKeys, "cases:read"), async (req, res) => {
    const q = parseOrThrow(listEventsQuery, req.query, "query");
    res.json(
      await deps.events.listEvents({
        accountId: q.accountId,
        eventIds: q.eventId === undefined ? undefined : [q.eventId].flat(),
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        limit: q.limit,
        cursor: q.cursor,
      }),
    );
  });
  return router;
}
