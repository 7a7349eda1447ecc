// RFC 9457 problem+json answers for every failure: AppErrors by their code, body-parser
// failures by kind, anything unknown as a 500 with an errorId that is also logged.
import { isDatabaseUnavailable } from "../db/database";
import { randomUUID } from "node:crypto";
import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import { z } from "zod";
import { AppError, type ErrorCode, errorRegistry } from "../shared/errors";
import type { Logger } from "../shared/logger";

/**
 * Every error answer (application/problem+json): RFC 9457's members, the stable `code`, the field
 * `errors` of a validation failure, and extension members some codes add (a refused move's
 * `from`, `to` and `allowed`; a 403's `requiredScope`; a 503's `reason`; a 500's `errorId`), hence
 * not strict. The OpenAPI document's one Problem schema; test/openapi.e2e.test.ts holds real answers to it.
 */
export const problemSchema = z.looseObject({
  type: z.string().describe("a URI naming the kind of problem, https://clauseguard.dev/problems/<code>"),
  title: z.string().describe("the kind's title, the same for every problem of a code"),
  status: z.number().int().describe("the HTTP status"),
  code: z.enum([...(Object.keys(errorRegistry) as ErrorCode[]), "internal"]).describe("stable machine-readable code"),
  detail: z.string().describe("what went wrong in this request"),
  instance: z.string().optional().describe("the request's path and query"),
  requestId: z.string().optional().describe("the request id (X-Request-Id), also in the server's log"),
  errors: z
    .array(z.strictObject({ path: z.string().describe("the field: `body.note`, `query.limit`, `[3].outputTokens`"), message: z.string() }))
    .optional()
    .describe("every invalid field of a validation failure"),
});
export type Problem = z.infer<typeof problemSchema>;

export function sendProblem(res: Response, err: AppError): void {
  const { status, title } = errorRegistry[err.code];
  // RFC 9110: a 401 names the scheme the client should use.
  if (status === 401) res.setHeader("WWW-Authenticate", 'Bearer realm="clauseguard"');
  // A 503 says when to come back (admission control names its own wait; an unreachable database: 1 s).
  if (status === 503) res.setHeader("Retry-After", String(err.extra?.retryAfterSeconds ?? 1));
  res
    .status(status)
    .type("application/problem+json")
    .json({
      type: `https://clauseguard.dev/problems/${err.code.replace(/_/g, "-")}`,
      title,
      status,
      code: err.code,
      detail: err.message,
      instance: res.req.originalUrl,
      requestId: res.locals.requestId as string | undefined,
      ...(err.errors ? { errors: err.errors } : {}),
      ...err.extra,
    } satisfies Problem);
}

export const routeNotFound: RequestHandler = (req, _res, next) => {
  next(new AppError("route_not_found", `no route for ${req.method} ${req.path}`));
};

/** Errors thrown by express.json()/express.text() carry a `type` and a `status`. */
type BodyParserError = Error & { type?: string; status?: number; limit?: number };

const bodyParserCodes: Record<string, ErrorCode> = {
  "entity.parse.failed": "malformed_body",
  "entity.too.large": "body_too_large",
  "encoding.unsupported": "unsupported_media_type",
  "charset.unsupported": "unsupported_media_type",
  "request.aborted": "malformed_body",
  "entity.verify.failed": "malformed_body",
};

/** The router could not percent-decode a path segment (`/v1/cases/%`): a URIError it marks 400, the client's fault. */
function isRouterDecodeError(err: unknown): err is URIError {
  return err instanceof URIError && (err as URIError & { status?: number }).status === 400;
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof AppError) return sendProblem(res, err);
    const bodyErr = err as BodyParserError;
    const code = bodyErr?.type ? bodyParserCodes[bodyErr.type] : undefined;
    if (code === "body_too_large") {
      return sendProblem(res, new AppError(code, `the request body is larger than the limit of ${bodyErr.limit} bytes`));
    }
    if (code) return sendProblem(res, new AppError(code, `the request body could not be read: ${bodyErr.message}`));
    // A compressed body that does not inflate (zlib's error, marked 400 by body-parser): the client's fault.
    if (bodyErr?.status === 400 && (bodyErr as { expose?: boolean }).expose === true) {
      return sendProblem(res, new AppError("malformed_body", `the request body could not be read: ${bodyErr.message}`));
    }
    if (isRouterDecodeError(err)) {
      return sendProblem(res, new AppError("validation_failed", "the path is not valid percent-encoding", [{ path: "params", message: err.message }]));
    }
    if (isDatabaseUnavailable(err)) {
      return sendProblem(res, new AppError("unavailable", "the database is not reachable; try again shortly"));
    }
    const errorId = randomUUID();
    logger.error({ err, errorId, requestId: res.locals.requestId, method: req.method, url: req.originalUrl }, "unhandled error");
    res
      .status(500)
      .type("application/problem+json")
      .json({
        type: "https://clauseguard.dev/problems/internal",
        title: "Internal server error",
        status: 500,
        code: "internal",
        detail: `An unexpected error occurred; quote errorId ${errorId} when reporting it.`,
        errorId,
        requestId: res.locals.requestId as string | undefined,
      } satisfies Problem);
  };
}
