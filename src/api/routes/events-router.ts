// HTTP for usage events: POST /v1/events (JSON array or NDJSON) and GET /v1/events.
import express, { type RequestHandler, Router } from "express";
import { z } from "zod";
import { AppError } from "../../shared/errors";
import { requireScope } from "../auth";
import { paginationQuery } from "../../shared/pagination";
import { parseOrThrow } from "../../shared/parse";
import type { ApiKeyService } from "../../features/auth/api-key-service";
import { queryMoment, queryText } from "../../features/events/event-schemas";
import { type EventService, ParseFailure } from "../../features/events/event-service";
import { type IngestAdmission, type Ticket, isRefusal } from "../../features/events/ingest-admission";

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
 * The items of a batch body: a JSON array, or NDJSON lines (already read as text). Any other body
 * is a 415 (no body parser took it) or a 400 naming what was expected (`noun`: "events", "accounts").
 */
export function batchItems(body: unknown, noun: string): unknown[] {
  if (typeof body === "string") return parseNdjson(body);
  if (Array.isArray(body)) return body;
  if (body === undefined) throw new AppError("unsupported_media_type", `send Content-Type: application/json (an array of ${noun}) or application/x-ndjson`);
  throw new AppError("validation_failed", `the body must be a JSON array of ${noun}`, [{ path: "", message: "expected an array" }]);
}

/**
 * Admission control in front of the body parsers (see ingest-admission.ts). A refused request's
 * body is still read to its end before the 503 goes out, so the client gets an answer on an open
 * connection rather than a reset while it is still sending.
 */
function admit(admission: IngestAdmission, bodyLimitBytes: number): RequestHandler {
  return async (req, res, next) => {
    const decision = await admission.enter();
    if (!isRefusal(decision)) {
      // A client that left while waiting in line gives its slot back at once.
      if (res.closed || req.destroyed) return decision.release();
      // The handler releases the slot when its batch is stored (see below); a request that ends
      // before the handler starts (a body that fails to parse, an aborted upload) releases it here.
      res.locals.admission = decision;
      res.once("close", () => {
        if (!res.locals.storing) decision.release();
      });
      return next();
    }
    const refuse = () => next(new AppError("unavailable", decision.message, undefined, { reason: decision.reason, retryAfterSeconds: decision.retryAfterSeconds }));
    if (req.readableEnded) return refuse();
    let read = 0;
    req.on("data", (chunk: Buffer) => {
      read += chunk.length;
      if (read > bodyLimitBytes) req.destroy(); // no more than an admitted body would be read
    });
    req.once("end", refuse);
    req.once("error", () => {});
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
    admit(deps.admission, deps.bodyLimitBytes),
    express.json({ limit: deps.bodyLimitBytes, type: ["application/json", "application/*+json"] }),
    express.text({ limit: deps.bodyLimitBytes, type: ["application/x-ndjson", "application/ndjson"] }),
    async (req, res) => {
      const items = batchItems(req.body, "events");
      res.locals.storing = true;
      let result;
      try {
        result = await deps.events.ingest(items);
      } finally {
        (res.locals.admission as Ticket | undefined)?.release();
      }
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
