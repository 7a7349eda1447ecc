// Application errors with stable codes; the HTTP layer maps each to a problem+json answer.
import type { z } from "zod";

import { type FieldError, formatPath } from "../engine/json-input";

export function issuesToFieldErrors(issues: readonly z.core.$ZodIssue[], prefix: (string | number)[] = []): FieldError[] {
  return issues.map((i) => ({ path: formatPath([...prefix, ...i.path]), message: i.message }));
}

export type ErrorCode =
  | "validation_failed"
  | "malformed_body"
  | "body_too_large"
  | "unsupported_media_type"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "route_not_found"
  | "conflict"
  | "transition_not_allowed"
  | "four_eyes"
  | "rate_limited"
  | "unavailable";

export const errorRegistry: Record<ErrorCode, { status: number; title: string }> = {
  validation_failed: { status: 400, title: "Request validation failed" },
  malformed_body: { status: 400, title: "Malformed request body" },
  body_too_large: { status: 413, title: "Request body too large" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
  unauthorized: { status: 401, title: "Missing or invalid API key" },
  forbidden: { status: 403, title: "API key lacks the required scope" },
  not_found: { status: 404, title: "Resource not found" },
  route_not_found: { status: 404, title: "No such route" },
  conflict: { status: 409, title: "Conflict" },
  transition_not_allowed: { status: 409, title: "Case transition not allowed" },
  four_eyes: { status: 409, title: "Refused: who enforced cannot review the appeal of it" },
  rate_limited: { status: 429, title: "Too many requests" },
  unavailable: { status: 503, title: "Service unavailable" },
};

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly errors?: FieldError[],
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "AppError";
  }

  get status(): number {
    return errorRegistry[this.code].status;
  }
}

export const notFound = (what: string, id: string) => new AppError("not_found", `${what} '${id}' does not exist`);

export const validationFailed = (errors: FieldError[], message = "One or more fields are invalid") =>
  new AppError("validation_failed", message, errors);
