// The OpenAPI 3.1 document, built from the same zod schemas that validate the requests (zod 4's
// JSON Schema output): one source of truth for parameters and bodies. Served at /openapi.json;
// /docs shows it with Swagger UI (swagger-ui-dist, served from this process: no CDN).
import { z } from "zod";
import { ruleDocumentSchema } from "../engine/rule-schema";
import { maxProfilesPerRequest, profileBody, profileItem } from "../features/accounts/account-profile";
import { accountIdParam, usageQuery } from "./routes/accounts-router";
import { auditQuery } from "../features/audit/audit-queries";
import { type Scope, scopes } from "../features/auth/api-key";
import { createKeyBody, keyIdParam } from "./routes/keys-router";
import { assignBody, caseIdParam, countCasesQuery, enforceBody, listCasesQuery, noteBody, transitionBody } from "./routes/cases-router";
import { maxBatchItems, usageEventSchema } from "../features/events/event-schemas";
import { listEventsQuery } from "./routes/events-router";
import { backtestBody, backtestDocumentBody, listRulesQuery, ruleIdParam } from "./routes/rules-router";

type ZodObj = z.ZodObject<z.ZodRawShape>;

type Operation = {
  method: "get" | "post" | "put" | "patch" | "delete";
  /** Express-style path (/v1/cases/:id). */
  path: string;
  summary: string;
  tag: string;
  /** Scopes any one of which is enough; "open": no key; "admin" is implied everywhere. */
  auth: Scope[] | "open";
  params?: ZodObj;
  query?: ZodObj;
  body?: { schema: z.ZodType | Record<string, unknown>; contentTypes?: string[] };
  ok: { status: number; description: string; contentType?: string };
};

const jsonSchema = (s: z.ZodType): Record<string, unknown> => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { unrepresentable: "any", io: "input" }) as Record<string, unknown>;
  return rest;
};

const eventBatch = { type: "array", minItems: 1, maxItems: maxBatchItems, items: jsonSchema(usageEventSchema) };

export const operations: Operation[] = [
  { method: "get", path: "/healthz", summary: "Liveness: the process answers", tag: "health", auth: "open", ok: { status: 200, description: "alive" } },
  { method: "get", path: "/readyz", summary: "Readiness: database, migrations and the evaluation queue", tag: "health", auth: "open", ok: { status: 200, description: "ready (503 when not)" } },
  { method: "get", path: "/metrics", summary: "Prometheus metrics (admin key when CLAUSEGUARD_METRICS_PUBLIC=false)", tag: "health", auth: "open", ok: { status: 200, description: "Prometheus text format", contentType: "text/plain" } },
  { method: "get", path: "/openapi.json", summary: "This document", tag: "health", auth: "open", ok: { status: 200, description: "OpenAPI 3.1" } },
  { method: "get", path: "/docs", summary: "Interactive documentation (Swagger UI)", tag: "health", auth: "open", ok: { status: 200, description: "HTML page", contentType: "text/html" } },
  { method: "get", path: "/console", summary: "The analyst console (a page that signs in with an API key and uses this API)", tag: "health", auth: "open", ok: { status: 200, description: "HTML page (503 when not built)", contentType: "text/html" } },
  { method: "get", path: "/docs/init.js", summary: "The documentation page's set-up script", tag: "health", auth: "open", ok: { status: 200, description: "JavaScript", contentType: "text/javascript" } },
  {
    method: "post", path: "/v1/events", summary: "Ingest a batch of usage events (JSON array or NDJSON); per-item validation", tag: "events", auth: ["events:write"],
    body: { schema: eventBatch, contentTypes: ["application/json", "application/x-ndjson"] },
    ok: { status: 202, description: "stored and queued for evaluation: { accepted, duplicates, rejected[] }" },
  },
  { method: "get", path: "/v1/events", summary: "Stored events, newest first", tag: "events", auth: ["cases:read"], query: listEventsQuery, ok: { status: 200, description: "a page of events" } },
  { method: "get", path: "/v1/accounts/:id/enforcement", summary: "An account's enforcement status (what the gateway asks)", tag: "accounts", auth: ["events:write", "cases:read"], params: accountIdParam, ok: { status: 200, description: "status and active enforcement" } },
  { method: "get", path: "/v1/accounts/:id/usage", summary: "An account's usage per hour (requests, tokens, signal rates), for charts", tag: "accounts", auth: ["cases:read"], params: accountIdParam, query: usageQuery, ok: { status: 200, description: "hourly points" } },
  { method: "get", path: "/v1/accounts/:id", summary: "An account with its usage, links and cases", tag: "accounts", auth: ["cases:read"], params: accountIdParam, ok: { status: 200, description: "the account" } },
  {
    method: "put", path: "/v1/accounts/:id", summary: "Set what the provider knows of an account (creation time, verification, plan, org); a field left out is kept, null clears it", tag: "accounts", auth: ["accounts:write"],
    params: accountIdParam, body: { schema: profileBody }, ok: { status: 200, description: "the account's profile" },
  },
  {
    method: "put", path: "/v1/accounts", summary: "Set many accounts' profiles at once (JSON array or NDJSON, up to 10,000): all or nothing", tag: "accounts", auth: ["accounts:write"],
    body: { schema: z.array(profileItem).min(1).max(maxProfilesPerRequest), contentTypes: ["application/json", "application/x-ndjson"] }, ok: { status: 200, description: "{ updated, items[] }" },
  },
  { method: "get", path: "/v1/cases", summary: "Violation cases, filtered, newest activity first", tag: "cases", auth: ["cases:read"], query: listCasesQuery, ok: { status: 200, description: "a page of cases" } },
  { method: "get", path: "/v1/cases/counts", summary: "How many cases of each status match the other filters", tag: "cases", auth: ["cases:read"], query: countCasesQuery, ok: { status: 200, description: "counts per status" } },
  { method: "get", path: "/v1/cases/:id", summary: "A case with its evidence and timeline", tag: "cases", auth: ["cases:read"], params: caseIdParam, ok: { status: 200, description: "the case" } },
  { method: "post", path: "/v1/cases/:id/transitions", summary: "Move a case (only the allowed moves)", tag: "cases", auth: ["cases:write"], params: caseIdParam, body: { schema: transitionBody }, ok: { status: 200, description: "the case" } },
  { method: "post", path: "/v1/cases/:id/notes", summary: "Add a note to a case's timeline", tag: "cases", auth: ["cases:write"], params: caseIdParam, body: { schema: noteBody }, ok: { status: 201, description: "the timeline entry" } },
  { method: "patch", path: "/v1/cases/:id", summary: "Assign a case (null unassigns)", tag: "cases", auth: ["cases:write"], params: caseIdParam, body: { schema: assignBody }, ok: { status: 200, description: "the case" } },
  { method: "post", path: "/v1/cases/:id/enforce", summary: "Restrict or suspend the case's account (and optionally linked accounts)", tag: "cases", auth: ["cases:write"], params: caseIdParam, body: { schema: enforceBody }, ok: { status: 200, description: "the enforcement" } },
  { method: "get", path: "/v1/rules", summary: "Rules with their current version", tag: "rules", auth: ["rules:read"], query: listRulesQuery, ok: { status: 200, description: "a page of rules" } },
  { method: "post", path: "/v1/rules/validate", summary: "Validate a rule document without saving it", tag: "rules", auth: ["rules:read"], body: { schema: ruleDocumentSchema }, ok: { status: 200, description: "{ valid: true }, or 400 with every fault and its path" } },
  { method: "post", path: "/v1/rules", summary: "Create a rule (version 1)", tag: "rules", auth: ["rules:write"], body: { schema: ruleDocumentSchema }, ok: { status: 201, description: "the rule" } },
  { method: "get", path: "/v1/rules/:id", summary: "A rule and its current version", tag: "rules", auth: ["rules:read"], params: ruleIdParam, ok: { status: 200, description: "the rule" } },
  { method: "get", path: "/v1/rules/:id/versions", summary: "Every version of a rule", tag: "rules", auth: ["rules:read"], params: ruleIdParam, ok: { status: 200, description: "the versions" } },
  { method: "put", path: "/v1/rules/:id", summary: "Change a rule: a new version", tag: "rules", auth: ["rules:write"], params: ruleIdParam, body: { schema: ruleDocumentSchema }, ok: { status: 200, description: "the rule" } },
  {
    method: "post", path: "/v1/rules/backtest", summary: "Replay stored events through an unsaved rule (Accept: application/x-ndjson streams progress)", tag: "rules", auth: ["rules:read"],
    body: { schema: { ...jsonSchema(backtestDocumentBody), properties: { ...(jsonSchema(backtestDocumentBody).properties as object), rule: jsonSchema(ruleDocumentSchema) } } },
    ok: { status: 200, description: "the hits, no cases created" },
  },
  { method: "post", path: "/v1/rules/:id/backtest", summary: "Replay stored events through a stored rule version", tag: "rules", auth: ["rules:read"], params: ruleIdParam, body: { schema: backtestBody }, ok: { status: 200, description: "the hits, no cases created" } },
  { method: "post", path: "/v1/rules/:id/enable", summary: "Enable a rule", tag: "rules", auth: ["rules:write"], params: ruleIdParam, ok: { status: 200, description: "the rule" } },
  { method: "post", path: "/v1/rules/:id/disable", summary: "Disable a rule", tag: "rules", auth: ["rules:write"], params: ruleIdParam, ok: { status: 200, description: "the rule" } },
  { method: "get", path: "/v1/keys", summary: "API keys (never their secrets)", tag: "keys", auth: [], ok: { status: 200, description: "the keys" } },
  { method: "post", path: "/v1/keys", summary: "Create an API key; the key is in this answer only", tag: "keys", auth: [], body: { schema: createKeyBody }, ok: { status: 201, description: "the key, shown once" } },
  { method: "delete", path: "/v1/keys/:id", summary: "Revoke an API key", tag: "keys", auth: [], params: keyIdParam, ok: { status: 204, description: "revoked" } },
  { method: "get", path: "/v1/audit", summary: "The append-only audit log", tag: "audit", auth: [], query: auditQuery, ok: { status: 200, description: "a page of audit entries" } },
];

export const openApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z]+)/g, "{$1}");

const problem = { $ref: "#/components/responses/Problem" };

function parameters(op: Operation): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [where, schema] of [["path", op.params], ["query", op.query]] as const) {
    if (!schema) continue;
    const json = jsonSchema(schema) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
    for (const [name, s] of Object.entries(json.properties ?? {})) {
      out.push({ name, in: where, required: where === "path" || (json.required ?? []).includes(name), schema: s, ...(typeof s.description === "string" ? { description: s.description } : {}) });
    }
  }
  return out;
}

/** The whole document. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const responses: Record<string, unknown> = {
      [op.ok.status]: { description: op.ok.description, ...(op.ok.status === 204 ? {} : { content: { [op.ok.contentType ?? "application/json"]: { schema: {} } } }) },
    };
    if (op.auth !== "open") Object.assign(responses, { 401: problem, 403: problem, 429: problem, 503: problem });
    if (op.params || op.query || op.body) responses[400] = problem;
    if (op.params) responses[404] = problem;
    if (op.body) Object.assign(responses, { 413: problem, 415: problem });
    if (/transitions|enforce/.test(op.path)) responses[409] = problem;
    const anyOf = op.auth === "open" ? [] : [...new Set<string>([...op.auth, "admin"])];
    const body = op.body
      ? {
          required: true,
          content: Object.fromEntries(
            (op.body.contentTypes ?? ["application/json"]).map((t) => [t, { schema: op.body!.schema instanceof z.ZodType ? jsonSchema(op.body!.schema) : op.body!.schema }]),
          ),
        }
      : undefined;
    (paths[openApiPath(op.path)] ??= {})[op.method] = {
      summary: op.summary,
      tags: [op.tag],
      operationId: `${op.method}${openApiPath(op.path).replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ""))}`,
      ...(op.auth === "open" ? { security: [] } : { description: `Scopes: ${anyOf.join(" or ")}.` }),
      ...(parameters(op).length ? { parameters: parameters(op) } : {}),
      ...(body ? { requestBody: body } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "ClauseGuard",
      version,
      description: "Terms-of-service compliance rules engine: usage events in, violation cases with evidence out. Errors are RFC 9457 problem+json with a stable `code` and field `errors`.",
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    tags: ["health", "events", "accounts", "cases", "rules", "keys", "audit"].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: `An API key (cg_<id>_<secret>) with one of the scopes: ${scopes.join(", ")}` } },
      responses: {
        Problem: {
          description: "An error (problem+json)",
          content: {
            "application/problem+json": {
              schema: {
                type: "object",
                required: ["type", "title", "status", "code"],
                properties: {
                  type: { type: "string" },
                  title: { type: "string" },
                  status: { type: "integer" },
                  code: { type: "string", description: "stable machine-readable code, e.g. validation_failed, unauthorized, unavailable" },
                  detail: { type: "string" },
                  errors: { type: "array", items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } } } },
                },
              },
            },
          },
        },
      },
    },
  };
}

/** The Swagger UI page: its assets come from swagger-ui-dist under /docs/, its setup from /docs/init.js (the CSP allows no inline script). */
export const docsPage = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>ClauseGuard API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

export const docsInit = `window.onload = function () {
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout" });
};
`;
