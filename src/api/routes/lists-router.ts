// HTTP for named lists: create, read, page through entries, change them (a whole new version:
// replace, add or remove; JSON or NDJSON, up to 1,000,000 values), delete an unused one.
import { setImmediate as yieldToLoop } from "node:timers/promises";
import express, { Router } from "express";
import { z } from "zod";
import { actorOf, requireScope } from "../auth";
import { listNameMessage, listNamePattern } from "../../engine/named-lists";
import { AppError, validationFailed } from "../../shared/errors";
import { storable, unstorableMessage } from "../../engine/json-input";
import { paginationQuery } from "../../shared/pagination";
import { parseOrThrow, storableText } from "../../shared/parse";
import type { ApiKeyService } from "../../features/auth/api-key-service";
import { distinctValues, maxListBodyBytes, maxListEntries, maxListValueLength } from "../../features/lists/list-service";
import type { ListService } from "../../features/lists/list-service";
import { listModes } from "../../features/lists/list-views";

export const listNameParam = z.object({ name: z.string().regex(listNamePattern, listNameMessage) });
export const createListBody = z.strictObject({
  name: z.string().regex(listNamePattern, listNameMessage),
  description: z.string().max(2000).refine(storable, unstorableMessage).default(""),
});
export const listEntriesQuery = z.strictObject({ ...paginationQuery, value: storableText(maxListValueLength).optional().describe("answer whether this one value is an entry") });
export const changeEntriesQuery = z.strictObject({ mode: z.enum(listModes).default("add") });
export const changeEntriesBody = z.strictObject({ values: z.array(z.string()).max(maxListEntries) });

/** NDJSON bodies of up to a million values of about 60 characters: 64 MiB. */
const ndjsonLimit = maxListBodyBytes;
/** Lines parsed between yields to the event loop: a large body never holds it for long. */
const linesPerSlice = 20_000;

/** The values of an NDJSON body with their line numbers: one JSON string per line (or `{ "value": "..." }`), blank lines skipped. */
export async function ndjsonValues(text: string): Promise<{ line: number; value: string }[]> {
  const values: { line: number; value: string }[] = [];
  const errors: { path: string; message: string }[] = [];
  let start = 0;
  let line = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    line++;
    const raw = text.slice(start, end).trim();
    start = end + 1;
    if (line % linesPerSlice === 0) await yieldToLoop();
    if (!raw) continue;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      if (errors.length < 100) errors.push({ path: `line ${line}`, message: "is not valid JSON (a JSON string per line)" });
      continue;
    }
    if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && "value" in v) v = (v as { value: unknown }).value;
    if (typeof v !== "string") {
      if (errors.length < 100) errors.push({ path: `line ${line}`, message: 'must be a JSON string, or { "value": "..." }' });
      continue;
    }
    values.push({ line, value: v });
    if (values.length > maxListEntries) throw validationFailed([{ path: `line ${line}`, message: `at most ${maxListEntries} values in one change` }]);
  }
  if (errors.length) throw validationFailed(errors, `${errors.length} line(s) cannot be read; nothing was changed`);
  return values;
}

export function createListsRouter(deps: { lists: ListService; apiKeys: ApiKeyService }): Router {
  const router = Router();
  const read = requireScope(deps.apiKeys, "rules:read");
  const write = requireScope(deps.apiKeys, "rules:write");
  router.get("/v1/lists", read, async (req, res) => {
    res.json(await deps.lists.list(parseOrThrow(z.strictObject(paginationQuery), req.query, "query")));
  });
  router.post("/v1/lists", write, express.json({ limit: "16kb" }), async (req, res) => {
    res.status(201).json(await deps.lists.create(parseOrThrow(createListBody, req.body ?? {}, "body"), actorOf(res)));
  });
  router.get("/v1/lists/:name", read, async (req, res) => {
    res.json(await deps.lists.get(parseOrThrow(listNameParam, req.params, "params").name));
  });
  router.delete("/v1/lists/:name", write, async (req, res) => {
    await deps.lists.remove(parseOrThrow(listNameParam, req.params, "params").name, actorOf(res));
    res.status(204).end();
  });
  router.get("/v1/lists/:name/entries", read, async (req, res) => {
    const { name } = parseOrThrow(listNameParam, req.params, "params");
    res.json(await deps.lists.entries(name, parseOrThrow(listEntriesQuery, req.query, "query")));
  });
  router.post(
    "/v1/lists/:name/entries",
    write,
    express.json({ limit: "16mb", type: ["application/json", "application/*+json"] }),
    express.text({ limit: ndjsonLimit, type: ["application/x-ndjson", "application/ndjson"] }),
    async (req, res) => {
      const { name } = parseOrThrow(listNameParam, req.params, "params");
      const { mode } = parseOrThrow(changeEntriesQuery, req.query, "query");
      let values: string[];
      if (typeof req.body === "string") {
        const lines = await ndjsonValues(req.body);
        values = await distinctValues(lines.map((l) => l.value), (i) => `line ${lines[i]!.line}`);
      } else if (req.body === undefined) {
        throw new AppError("unsupported_media_type", 'send Content-Type: application/json ({ "values": [...] }) or application/x-ndjson (a JSON string per line)');
      } else {
        values = await distinctValues(parseOrThrow(changeEntriesBody, req.body, "body").values, (i) => `body.values[${i}]`);
      }
      res.json(await deps.lists.change(name, mode, values, actorOf(res)));
    },
  );
  return router;
}
