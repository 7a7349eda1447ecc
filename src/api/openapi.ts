// The OpenAPI 3.1 document, built from the same zod schemas that validate the requests and that
// type the answers (zod 4's JSON Schema output): one source of truth for parameters, bodies and
// response bodies. The response schemas live beside the features that build the answers
// (features/*/*-views.ts); every error answer is the one Problem schema (problem.ts).
// test/openapi.e2e.test.ts holds the routes and real answers to this document. Served at
// /openapi.json; /docs shows it with Swagger UI (swagger-ui-dist, served from this process: no CDN).
import { z } from "zod";
import { paginationQuery } from "../shared/pagination";
import { ruleDocumentSchema } from "../engine/rule-schema";
import { maxProfilesPerRequest, profileBody, profileItem } from "../features/accounts/account-profile";
import { accountProfileSchema, accountViewSchema, enforcementStatusSchema, profilesResultSchema, usageSeriesSchema } from "../features/accounts/account-views";
import { accountIdParam, usageQuery } from "./routes/accounts-router";
import { auditQuery } from "../features/audit/audit-queries";
import { auditPageSchema } from "../features/audit/audit-views";
import { type Scope, scopes } from "../features/auth/api-key";
import { apiKeyPageSchema, createdKeySchema } from "../features/auth/key-views";
import { createKeyBody, keyIdParam } from "./routes/keys-router";
import { assignBody, caseIdParam, countCasesQuery, enforceBody, listCasesQuery, noteBody, transitionBody } from "./routes/cases-router";
import {
  assignResultSchema,
  caseCountsSchema,
  caseDetailSchema,
  casePageSchema,
  enforceResultSchema,
  noteResultSchema,
  transitionResultSchema,
} from "../features/cases/case-views";
import { maxBatchItems, usageEventSchema } from "../features/events/event-schemas";
import { eventPageSchema, ingestResultSchema } from "../features/events/event-views";
import { listEventsQuery } from "./routes/events-router";
import { backtestBody, backtestDocumentBody, listRulesQuery, ruleIdParam } from "./routes/rules-router";
import {
  backtestResultSchema,
  backtestStreamLineSchema,
  rulePageSchema,
  ruleUpdateSchema,
  ruleValidSchema,
  ruleVersionPageSchema,
  ruleVersionSchema,
  ruleViewSchema,
} from "../features/rules/rule-views";
import { healthSchema, readinessSchema } from "./health-views";
import { statementPageSchema, statementSchema } from "../features/statements/statement-views";
import { listStatementsQuery, statementIdParam } from "./routes/statements-router";
import { evidenceBundleSchema, signingKeySetSchema } from "../features/evidence/evidence-views";
import { exportedBundleSchema, importResultSchema } from "../features/indicators/stix";
import { exportIndicatorsQuery, importIndicatorsQuery } from "./routes/indicators-router";
import { changeEntriesBody, changeEntriesQuery, createListBody, listEntriesQuery, listNameParam } from "./routes/lists-router";
import { allowBody, caseSnoozeBody, listAllowQuery, listSnoozesQuery, snoozeBody, suppressionIdParam } from "./routes/suppressions-router";
import { periodQuery, promoteBody, shadowBody, shadowReportQuery } from "./routes/rules-router";
import { listChangeResultSchema, listDetailSchema, listEntryPageSchema, listPageSchema, listSchema } from "../features/lists/list-views";
import { allowEntryPageSchema, allowEntrySchema, snoozePageSchema, snoozeSchema } from "../features/suppressions/suppression-views";
import { promotionSchema, ruleStatsPageSchema, ruleStatsSchema, shadowReportSchema, shadowSchema } from "../features/rules/lifecycle-views";
import { appealCountsSchema, appealDecisionSchema, appealPageSchema, appealSchema } from "../features/appeals/appeal-views";
import { appealIdParam, appealTransitionBody, listAppealsQuery, submitAppealBody } from "./routes/appeals-router";
import { problemSchema } from "./problem";

type ZodObj = z.ZodObject<z.ZodRawShape>;
type JsonSchema = Record<string, unknown>;

/** A success answer: its status, and its body's schema per content type (the first is JSON's unless `contentType` says otherwise). */
type Ok =
  | { status: 204; description: string }
  | { status: number; description: string; schema: z.ZodType | JsonSchema; contentType?: string; alsoAs?: Record<string, z.ZodType> };

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
  body?: { schema: z.ZodType | JsonSchema; contentTypes?: string[] };
  ok: Ok;
  /** Other answers than the success and the problems every route may give (readiness's 503). */
  otherwise?: { status: number; description: string; schema: z.ZodType }[];
  /** Problems this operation answers beyond those its auth, parameters and body imply (a conflict, say). */
  problems?: number[];
};

/**
 * A zod schema as JSON Schema, inlined whole: a `$ref` inside it would resolve against this
 * document's root and break, so a schema that needs one (a recursive type) is refused here.
 */
const toJsonSchema = (s: z.ZodType, io: "input" | "output"): JsonSchema => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, {
    unrepresentable: "any",
    io,
    // An answer's moments are Date.toISOString(): `format: date-time` says it; zod's long pattern for it would be repeated in every one.
    override: ({ jsonSchema }) => {
      if (io === "output" && jsonSchema.format === "date-time") delete jsonSchema.pattern;
    },
  }) as JsonSchema;
  if ("$defs" in rest) throw new Error(`a schema of the OpenAPI document needs $defs (a recursive or registered schema): ${JSON.stringify(rest).slice(0, 200)}`);
  return rest;
};
/** A request's schema: what the client may send (defaults optional). */
const jsonSchema = (s: z.ZodType): JsonSchema => toJsonSchema(s, "input");
/** An answer's schema: what the server sends (defaults filled in, objects strict where the zod schema is). */
const responseSchema = (s: z.ZodType | JsonSchema): JsonSchema => (s instanceof z.ZodType ? toJsonSchema(s, "output") : s);

const eventBatch = { type: "array", minItems: 1, maxItems: maxBatchItems, items: jsonSchema(usageEventSchema) };
const text = { type: "string" };
const html = { status: 200, description: "HTML page", contentType: "text/html", schema: text };
const backtestOk = { status: 200, description: "the hits, no cases created", schema: backtestResultSchema, alsoAs: { "application/x-ndjson": backtestStreamLineSchema } };

export const operations: Operation[] = [
  { method: "get", path: "/healthz", summary: "Liveness: the process answers", tag: "health", auth: "open", ok: { status: 200, description: "alive", schema: healthSchema } },
  {
    method: "get", path: "/readyz", summary: "Readiness: database, migrations and the evaluation queue", tag: "health", auth: "open",
    ok: { status: 200, description: "ready", schema: readinessSchema }, otherwise: [{ status: 503, description: "not ready: migrations pending or the database unreachable", schema: readinessSchema }],
  },
  { method: "get", path: "/metrics", summary: "Prometheus metrics (admin key when CLAUSEGUARD_METRICS_PUBLIC=false)", tag: "health", auth: "open", ok: { status: 200, description: "Prometheus text format", contentType: "text/plain", schema: text } },
  { method: "get", path: "/openapi.json", summary: "This document", tag: "health", auth: "open", ok: { status: 200, description: "OpenAPI 3.1", schema: { type: "object", properties: { openapi: { const: "3.1.0" }, info: { type: "object" }, paths: { type: "object" } }, required: ["openapi", "info", "paths"] } } },
  { method: "get", path: "/docs", summary: "Interactive documentation (Swagger UI)", tag: "health", auth: "open", ok: html },
  { method: "get", path: "/console", summary: "The analyst console (a page that signs in with an API key and uses this API)", tag: "health", auth: "open", ok: html, problems: [503] },
  { method: "get", path: "/docs/init.js", summary: "The documentation page's set-up script", tag: "health", auth: "open", ok: { status: 200, description: "JavaScript", contentType: "text/javascript", schema: text } },
  {
    method: "post", path: "/v1/events", summary: "Ingest a batch of usage events (JSON array or NDJSON, optionally gzip-, deflate- or br-encoded); per-item validation", tag: "events", auth: ["events:write"],
    body: { schema: eventBatch, contentTypes: ["application/json", "application/x-ndjson"] },
    ok: { status: 202, description: "stored and queued for evaluation: { accepted, duplicates, rejected[] }", schema: ingestResultSchema },
  },
  { method: "get", path: "/v1/events", summary: "Stored events, newest first", tag: "events", auth: ["cases:read"], query: listEventsQuery, ok: { status: 200, description: "a page of events", schema: eventPageSchema } },
  {
    method: "get", path: "/v1/accounts/:id/enforcement", summary: "An account's enforcement status (what the gateway asks)", tag: "accounts", auth: ["events:write", "cases:read"], params: accountIdParam,
    ok: { status: 200, description: "status and active enforcement", schema: enforcementStatusSchema },
  },
  {
    method: "get", path: "/v1/accounts/:id/usage", summary: "An account's usage per hour (requests, tokens, signal rates), for charts", tag: "accounts", auth: ["cases:read"], params: accountIdParam, query: usageQuery,
    ok: { status: 200, description: "hourly points", schema: usageSeriesSchema },
  },
  { method: "get", path: "/v1/accounts/:id", summary: "An account with its usage, links and cases", tag: "accounts", auth: ["cases:read"], params: accountIdParam, ok: { status: 200, description: "the account", schema: accountViewSchema } },
  {
    method: "put", path: "/v1/accounts/:id", summary: "Set what the provider knows of an account (creation time, verification, plan, org); a field left out is kept, null clears it", tag: "accounts", auth: ["accounts:write"],
    params: accountIdParam, body: { schema: profileBody }, ok: { status: 200, description: "the account's profile", schema: accountProfileSchema },
  },
  {
    method: "put", path: "/v1/accounts", summary: "Set many accounts' profiles at once (JSON array or NDJSON, up to 10,000): all or nothing", tag: "accounts", auth: ["accounts:write"],
    body: { schema: z.array(profileItem).min(1).max(maxProfilesPerRequest), contentTypes: ["application/json", "application/x-ndjson"] }, ok: { status: 200, description: "{ updated, items[] }", schema: profilesResultSchema },
  },
  {
    method: "get", path: "/v1/accounts/:id/statements", summary: "An account's statements of reasons (each enforcement placed or lifted, each appeal upheld), newest first", tag: "statements",
    auth: ["statements:read", "cases:read"], params: accountIdParam, query: listStatementsQuery, ok: { status: 200, description: "a page of statements", schema: statementPageSchema },
  },
  { method: "get", path: "/v1/statements/:id", summary: "One statement of reasons", tag: "statements", auth: ["statements:read", "cases:read"], params: statementIdParam, ok: { status: 200, description: "the statement", schema: statementSchema } },
  {
    method: "post", path: "/v1/appeals", summary: "File a holder's appeal of an enforcement statement (within its appeal period, while the measure holds, once per statement)", tag: "appeals",
    auth: ["appeals:write"], body: { schema: submitAppealBody }, ok: { status: 201, description: "the appeal", schema: appealSchema }, problems: [409],
  },
  { method: "get", path: "/v1/appeals", summary: "Appeals, the nearest deadline first", tag: "appeals", auth: ["cases:read"], query: listAppealsQuery, ok: { status: 200, description: "a page of appeals", schema: appealPageSchema } },
  { method: "get", path: "/v1/appeals/counts", summary: "Appeals per status, open and overdue", tag: "appeals", auth: ["cases:read"], ok: { status: 200, description: "the counts", schema: appealCountsSchema } },
  { method: "get", path: "/v1/appeals/:id", summary: "One appeal", tag: "appeals", auth: ["cases:read", "appeals:write"], params: appealIdParam, ok: { status: 200, description: "the appeal", schema: appealSchema } },
  {
    method: "post", path: "/v1/appeals/:id/transitions", summary: "Review, uphold or reverse an appeal (not by who enforced: 409 four_eyes)", tag: "appeals", auth: ["cases:write"],
    params: appealIdParam, body: { schema: appealTransitionBody }, ok: { status: 200, description: "the appeal and the statements the move issued", schema: appealDecisionSchema }, problems: [409],
  },
  {
    method: "get", path: "/v1/cases/:id/evidence-bundle", summary: "The case's evidence as one self-contained JSON document, signed with Ed25519 over its RFC 8785 canonical JSON (503 when no signing key is configured)", tag: "cases",
    auth: ["cases:read"], params: caseIdParam, ok: { status: 200, description: "the signed bundle", schema: evidenceBundleSchema },
  },
  { method: "get", path: "/v1/signing-keys", summary: "The public keys that verify evidence bundles (a JSON Web Key Set), the current one first", tag: "cases", auth: "open", ok: { status: 200, description: "the keys", schema: signingKeySetSchema } },
  {
    method: "get", path: "/v1/indicators", summary: "A STIX 2.1 bundle of indicators (HMAC-SHA256 hashes keyed for one sharing partner) from one case, or a rule's cases over a period", tag: "indicators",
    auth: ["cases:read"], query: exportIndicatorsQuery, ok: { status: 200, description: "the bundle", schema: exportedBundleSchema }, problems: [409],
  },
  {
    method: "post", path: "/v1/indicators/import", summary: "Import a partner's STIX 2.1 bundle as a named source: checked in full, every fault with its path, all or nothing", tag: "indicators",
    auth: ["rules:write"], query: importIndicatorsQuery, body: { schema: { type: "object", description: "a STIX 2.1 bundle" } }, ok: { status: 200, description: "what was stored", schema: importResultSchema },
  },
  { method: "get", path: "/v1/cases", summary: "Violation cases, filtered, newest activity first", tag: "cases", auth: ["cases:read"], query: listCasesQuery, ok: { status: 200, description: "a page of cases", schema: casePageSchema } },
  { method: "get", path: "/v1/cases/counts", summary: "How many cases of each status match the other filters", tag: "cases", auth: ["cases:read"], query: countCasesQuery, ok: { status: 200, description: "counts per status", schema: caseCountsSchema } },
  { method: "get", path: "/v1/cases/:id", summary: "A case with its evidence and timeline", tag: "cases", auth: ["cases:read"], params: caseIdParam, ok: { status: 200, description: "the case", schema: caseDetailSchema } },
  {
    method: "post", path: "/v1/cases/:id/transitions", summary: "Move a case (only the allowed moves)", tag: "cases", auth: ["cases:write"], params: caseIdParam, body: { schema: transitionBody },
    ok: { status: 200, description: "the move, and the accounts a resolution restored", schema: transitionResultSchema }, problems: [409],
  },
  { method: "post", path: "/v1/cases/:id/notes", summary: "Add a note to a case's timeline", tag: "cases", auth: ["cases:write"], params: caseIdParam, body: { schema: noteBody }, ok: { status: 201, description: "the timeline entry", schema: noteResultSchema } },
  { method: "patch", path: "/v1/cases/:id", summary: "Assign a case (null unassigns)", tag: "cases", auth: ["cases:write"], params: caseIdParam, body: { schema: assignBody }, ok: { status: 200, description: "the assignment", schema: assignResultSchema } },
  {
    method: "post", path: "/v1/cases/:id/enforce", summary: "Restrict or suspend the case's account (and optionally linked accounts)", tag: "cases", auth: ["cases:write"], params: caseIdParam, body: { schema: enforceBody },
    ok: { status: 200, description: "every account enforced, with its resulting status", schema: enforceResultSchema }, problems: [409],
  },
  { method: "get", path: "/v1/rules", summary: "Rules with their current version", tag: "rules", auth: ["rules:read"], query: listRulesQuery, ok: { status: 200, description: "a page of rules", schema: rulePageSchema } },
  {
    method: "post", path: "/v1/rules/validate", summary: "Validate a rule document without saving it", tag: "rules", auth: ["rules:read"], body: { schema: ruleDocumentSchema },
    ok: { status: 200, description: "{ valid: true }, or 400 with every fault and its path", schema: ruleValidSchema },
  },
  {
    method: "post", path: "/v1/rules", summary: "Create a rule (version 1)", tag: "rules", auth: ["rules:write"], body: { schema: ruleDocumentSchema },
    ok: { status: 201, description: "the rule", schema: ruleViewSchema }, problems: [409],
  },
  { method: "get", path: "/v1/rules/:id", summary: "A rule and its current version", tag: "rules", auth: ["rules:read"], params: ruleIdParam, ok: { status: 200, description: "the rule", schema: ruleViewSchema } },
  { method: "get", path: "/v1/rules/:id/versions", summary: "Every version of a rule", tag: "rules", auth: ["rules:read"], params: ruleIdParam, ok: { status: 200, description: "the versions, newest first, in one page", schema: ruleVersionPageSchema } },
  {
    method: "put", path: "/v1/rules/:id", summary: "Change a rule: a new version", tag: "rules", auth: ["rules:write"], params: ruleIdParam, body: { schema: ruleDocumentSchema },
    ok: { status: 200, description: "the rule, and whether the document made a new version", schema: ruleUpdateSchema },
  },
  {
    method: "post", path: "/v1/rules/backtest", summary: "Replay stored events through an unsaved rule (Accept: application/x-ndjson streams progress)", tag: "rules", auth: ["rules:read"],
    body: { schema: { ...jsonSchema(backtestDocumentBody), properties: { ...(jsonSchema(backtestDocumentBody).properties as object), rule: jsonSchema(ruleDocumentSchema) } } },
    ok: backtestOk,
  },
  { method: "post", path: "/v1/rules/:id/backtest", summary: "Replay stored events through a stored rule version", tag: "rules", auth: ["rules:read"], params: ruleIdParam, body: { schema: backtestBody }, ok: backtestOk },
  { method: "post", path: "/v1/rules/:id/enable", summary: "Enable a rule", tag: "rules", auth: ["rules:write"], params: ruleIdParam, ok: { status: 200, description: "the rule", schema: ruleViewSchema } },
  { method: "post", path: "/v1/rules/:id/disable", summary: "Disable a rule", tag: "rules", auth: ["rules:write"], params: ruleIdParam, ok: { status: 200, description: "the rule", schema: ruleViewSchema } },
  {
    method: "post", path: "/v1/rules/:id/versions", summary: "Store a candidate version without making it current (to run in shadow, then promote)", tag: "rules", auth: ["rules:write"],
    params: ruleIdParam, body: { schema: ruleDocumentSchema }, ok: { status: 201, description: "the stored version", schema: ruleVersionSchema }, problems: [409],
  },
  {
    method: "post", path: "/v1/rules/:id/shadow", summary: "Evaluate a version live beside the active one, opening no case", tag: "rules", auth: ["rules:write"],
    params: ruleIdParam, body: { schema: shadowBody }, ok: { status: 201, description: "the shadow", schema: shadowSchema }, problems: [409],
  },
  { method: "get", path: "/v1/rules/:id/shadow", summary: "The rule's running shadow, else its newest", tag: "rules", auth: ["rules:read"], params: ruleIdParam, ok: { status: 200, description: "the shadow", schema: shadowSchema } },
  { method: "delete", path: "/v1/rules/:id/shadow", summary: "Stop the rule's running shadow", tag: "rules", auth: ["rules:write"], params: ruleIdParam, ok: { status: 200, description: "the stopped shadow", schema: shadowSchema } },
  {
    method: "get", path: "/v1/rules/:id/shadow/report", summary: "Accounts hit only by the candidate, only by the active version, by both; evidence and counts per day", tag: "rules", auth: ["rules:read"],
    params: ruleIdParam, query: shadowReportQuery, ok: { status: 200, description: "the report", schema: shadowReportSchema },
  },
  {
    method: "post", path: "/v1/rules/:id/shadow/promote", summary: "Make the running shadow's version the active one (audited with the reason)", tag: "rules", auth: ["rules:write"],
    params: ruleIdParam, body: { schema: promoteBody }, ok: { status: 200, description: "the rule and the shadow", schema: promotionSchema },
  },
  {
    method: "get", path: "/v1/rules/:id/stats", summary: "Rule quality from verdicts, per version: cases, precision, time to decision, hits per 1,000 events", tag: "rules", auth: ["rules:read"],
    params: ruleIdParam, query: periodQuery, ok: { status: 200, description: "the stats", schema: ruleStatsSchema },
  },
  { method: "get", path: "/v1/rule-stats", summary: "Every rule's quality over one period", tag: "rules", auth: ["rules:read"], query: periodQuery, ok: { status: 200, description: "the stats of every rule", schema: ruleStatsPageSchema } },
  { method: "get", path: "/v1/lists", summary: "Named lists", tag: "lists", auth: ["rules:read"], query: z.strictObject(paginationQuery), ok: { status: 200, description: "a page of lists", schema: listPageSchema } },
  { method: "post", path: "/v1/lists", summary: "Create an empty named list", tag: "lists", auth: ["rules:write"], body: { schema: createListBody }, ok: { status: 201, description: "the list", schema: listSchema }, problems: [409] },
  { method: "get", path: "/v1/lists/:name", summary: "A list, the rules that name it, and its newest changes", tag: "lists", auth: ["rules:read"], params: listNameParam, ok: { status: 200, description: "the list", schema: listDetailSchema } },
  { method: "delete", path: "/v1/lists/:name", summary: "Delete a list no rule names", tag: "lists", auth: ["rules:write"], params: listNameParam, ok: { status: 204, description: "deleted" }, problems: [409] },
  {
    method: "get", path: "/v1/lists/:name/entries", summary: "A list's entries in value order, or whether one value is an entry", tag: "lists", auth: ["rules:read"],
    params: listNameParam, query: listEntriesQuery, ok: { status: 200, description: "a page of values", schema: listEntryPageSchema },
  },
  {
    method: "post", path: "/v1/lists/:name/entries", summary: "A new version of the entries: replace, add or remove up to 1,000,000 values, all or nothing", tag: "lists", auth: ["rules:write"],
    params: listNameParam, query: changeEntriesQuery, body: { schema: changeEntriesBody, contentTypes: ["application/json", "application/x-ndjson"] },
    ok: { status: 200, description: "the list and the change", schema: listChangeResultSchema },
  },
  { method: "post", path: "/v1/allow-entries", summary: "Exempt an account, a payment fingerprint or an org from a rule or every rule, until it expires", tag: "suppressions", auth: ["cases:write"], body: { schema: allowBody }, ok: { status: 201, description: "the allow entry", schema: allowEntrySchema } },
  { method: "get", path: "/v1/allow-entries", summary: "Allow entries, newest first", tag: "suppressions", auth: ["cases:read"], query: listAllowQuery, ok: { status: 200, description: "a page of allow entries", schema: allowEntryPageSchema } },
  { method: "delete", path: "/v1/allow-entries/:id", summary: "Revoke an allow entry", tag: "suppressions", auth: ["cases:write"], params: suppressionIdParam, ok: { status: 200, description: "the revoked entry", schema: allowEntrySchema } },
  { method: "post", path: "/v1/snoozes", summary: "Silence a rule for one account until a time", tag: "suppressions", auth: ["cases:write"], body: { schema: snoozeBody }, ok: { status: 201, description: "the snooze", schema: snoozeSchema } },
  { method: "get", path: "/v1/snoozes", summary: "Snoozes, newest first", tag: "suppressions", auth: ["cases:read"], query: listSnoozesQuery, ok: { status: 200, description: "a page of snoozes", schema: snoozePageSchema } },
  { method: "delete", path: "/v1/snoozes/:id", summary: "Cancel a snooze", tag: "suppressions", auth: ["cases:write"], params: suppressionIdParam, ok: { status: 200, description: "the cancelled snooze", schema: snoozeSchema } },
  {
    method: "post", path: "/v1/cases/:id/snooze", summary: "Silence the case's rule for the case's account until a time (on the case's timeline)", tag: "suppressions", auth: ["cases:write"],
    params: caseIdParam, body: { schema: caseSnoozeBody }, ok: { status: 201, description: "the snooze", schema: snoozeSchema },
  },
  { method: "get", path: "/v1/keys", summary: "API keys (never their secrets)", tag: "keys", auth: [], ok: { status: 200, description: "the keys, in one page", schema: apiKeyPageSchema } },
  { method: "post", path: "/v1/keys", summary: "Create an API key; the key is in this answer only", tag: "keys", auth: [], body: { schema: createKeyBody }, ok: { status: 201, description: "the key, shown once", schema: createdKeySchema } },
  { method: "delete", path: "/v1/keys/:id", summary: "Revoke an API key", tag: "keys", auth: [], params: keyIdParam, ok: { status: 204, description: "revoked" } },
  { method: "get", path: "/v1/audit", summary: "The append-only audit log", tag: "audit", auth: [], query: auditQuery, ok: { status: 200, description: "a page of audit entries", schema: auditPageSchema } },
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
    const ok = op.ok;
    const responses: Record<string, unknown> = {
      [ok.status]: {
        description: ok.description,
        ...("schema" in ok
          ? {
              content: {
                [ok.contentType ?? "application/json"]: { schema: responseSchema(ok.schema) },
                ...Object.fromEntries(Object.entries(ok.alsoAs ?? {}).map(([type, schema]) => [type, { schema: responseSchema(schema) }])),
              },
            }
          : {}),
      },
    };
    for (const other of op.otherwise ?? []) responses[other.status] = { description: other.description, content: { "application/json": { schema: responseSchema(other.schema) } } };
    if (op.auth !== "open") Object.assign(responses, { 401: problem, 403: problem, 429: problem, 503: problem });
    if (op.params || op.query || op.body) responses[400] = problem;
    if (op.params) responses[404] = problem;
    if (op.body) Object.assign(responses, { 413: problem, 415: problem });
    for (const status of op.problems ?? []) responses[status] = problem;
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
    tags: ["health", "events", "accounts", "statements", "appeals", "indicators", "cases", "rules", "lists", "suppressions", "keys", "audit"].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: `An API key (cg_<id>_<secret>) with one of the scopes: ${scopes.join(", ")}` } },
      schemas: { Problem: { ...responseSchema(problemSchema), description: "RFC 9457 problem details, with a stable `code` and, for invalid fields, `errors`" } },
      responses: {
        Problem: { description: "An error (problem+json)", content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } },
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
