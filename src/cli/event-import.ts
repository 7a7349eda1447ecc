// `clauseguard events import <file>`: streams an NDJSON or CSV file of usage events of any size
// to a running server's POST /v1/events in batches, and sums what the server answered. Memory
// stays at one batch whatever the file's size. A line that cannot be read (broken JSON) is counted
// as rejected here with its line number; every other check is the server's, reported per line.
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { parse as parseCsv } from "csv-parse";
import type { ApiClient } from "./api-client";

export type Rejection = { line: number; errors: { path: string; message: string }[] };
export type ImportSummary = { file: string; lines: number; accepted: number; duplicates: number; rejected: number; rejections: Rejection[] };
export type ImportProgress = { bytesRead: number; totalBytes: number; summary: ImportSummary };

type Item = { line: number; event?: unknown; error?: string };

/** Rejections kept for the report (all are counted). */
const keptRejections = 100;

export class ImportFileError extends Error {
  override name = "ImportFileError";
}

export function formatOf(file: string): "ndjson" | "csv" {
  const ext = path.extname(file).toLowerCase();
  if (ext === ".ndjson" || ext === ".jsonl") return "ndjson";
  if (ext === ".csv") return "csv";
  throw new ImportFileError(`${file}: unknown format '${ext || "(no extension)"}'; name the file .ndjson, .jsonl or .csv`);
}

async function* ndjsonItems(stream: fs.ReadStream): AsyncGenerator<Item> {
  let line = 0;
  for await (const text of readline.createInterface({ input: stream, crlfDelay: Infinity })) {
    line++;
    if (!text.trim()) continue;
    try {
      yield { line, event: JSON.parse(text) };
    } catch {
      yield { line, error: "not valid JSON" };
    }
  }
}

const numericFields = new Set(["inputTokens", "outputTokens", "asn"]);

/** A CSV cell as the JSON value the API expects: numbers for numeric fields, booleans and numbers for signals. */
function cell(column: string, text: string): unknown {
  if (numericFields.has(column)) return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  if (column.startsWith("signals.")) {
    if (text === "true" || text === "false") return text === "true";
    return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  }
  return text;
}

/**
 * One CSV row as an event: a header names each column after the event's field; `signals.<name>`
 * and `attributes.<name>` columns fill those objects; empty cells are left out.
 */
export function csvRowToEvent(row: Record<string, string>): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  for (const [column, text] of Object.entries(row)) {
    if (text === "") continue;
    const dot = column.indexOf(".");
    const group = dot > 0 ? column.slice(0, dot) : undefined;
    if (group === "signals" || group === "attributes") {
      const name = column.slice(dot + 1);
      const obj = (event[group] ??= Object.create(null) as Record<string, unknown>) as Record<string, unknown>;
      obj[name] = group === "signals" ? cell(column, text) : text;
    } else {
      event[column] = cell(column, text);
    }
  }
  // Plain objects again, so JSON.stringify sends them as written.
  for (const group of ["signals", "attributes"]) if (event[group]) event[group] = { ...(event[group] as object) };
  return event;
}

async function* csvItems(stream: fs.ReadStream): AsyncGenerator<Item> {
  const parser = stream.pipe(parseCsv({ columns: true, bom: true, skip_empty_lines: true, trim: true, info: true }));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      yield { line: info.lines, event: csvRowToEvent(record) };
    }
  } catch (err) {
    throw new ImportFileError(`CSV: ${(err as Error).message}`);
  }
}

export async function importEvents(opts: {
  api: ApiClient;
  file: string;
  batchSize: number;
  onProgress?: (p: ImportProgress) => void;
}): Promise<ImportSummary> {
  const format = formatOf(opts.file);
  let totalBytes: number;
  try {
    const stat = fs.statSync(opts.file);
    if (!stat.isFile()) throw new Error("not a file");
    totalBytes = stat.size;
  } catch {
    throw new ImportFileError(`${opts.file} does not exist or is not a readable file`);
  }
  const stream = fs.createReadStream(opts.file);
  const summary: ImportSummary = { file: opts.file, lines: 0, accepted: 0, duplicates: 0, rejected: 0, rejections: [] };
  const reject = (r: Rejection) => {
    summary.rejected++;
    if (summary.rejections.length < keptRejections) summary.rejections.push(r);
  };
  let batch: Item[] = [];
  const send = async () => {
    if (!batch.length) return;
    const items = batch;
    batch = [];
    const r = await opts.api.request<{ accepted: number; duplicates: number; rejected: { index: number; errors: Rejection["errors"] }[] }>(
      "POST",
      "/v1/events",
      items.map((i) => i.event),
    );
    summary.accepted += r.accepted;
    summary.duplicates += r.duplicates;
    // The server names fields by the item's index in the batch ([3].inputTokens): shown by line instead.
    for (const x of r.rejected) reject({ line: items[x.index]!.line, errors: x.errors.map((e) => ({ ...e, path: e.path.replace(/^\[\d+\]\.?/, "") })) });
    opts.onProgress?.({ bytesRead: stream.bytesRead, totalBytes, summary });
  };
  for await (const item of format === "csv" ? csvItems(stream) : ndjsonItems(stream)) {
    summary.lines++;
    if (item.error) reject({ line: item.line, errors: [{ path: "", message: item.error }] });
    else batch.push(item);
    if (batch.length >= opts.batchSize) await send();
  }
  await send();
  opts.onProgress?.({ bytesRead: totalBytes, totalBytes, summary });
  return summary;
}
