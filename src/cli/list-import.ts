// `clauseguard lists import <name> <file>`: reads a CSV or NDJSON file of values (up to 1,000,000),
// checks it whole, and sends it as one change of the named list (POST /v1/lists/:name/entries):
// the server applies it in one transaction, so a failed import changes nothing.
import fs from "node:fs";
import readline from "node:readline";
import { parse as parseCsv } from "csv-parse";
import type { ApiClient } from "./api-client";
import { ImportFileError, formatOf } from "./event-import";
import { maxListBodyBytes, maxListEntries, valueFaults } from "../features/lists/list-service";
import type { ListChangeResult, ListMode } from "../features/lists/list-views";

/** The values of a file: an NDJSON line is a JSON string or { "value": ... }; a CSV row's `column` (default: the first). */
export async function readListValues(file: string, column?: string): Promise<string[]> {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new ImportFileError(`${file} does not exist or is not a readable file`);
  const format = formatOf(file);
  const values: string[] = [];
  const faults: string[] = [];
  const fault = (line: number, message: string) => {
    if (faults.length < 20) faults.push(`line ${line}: ${message}`);
  };
  const push = (line: number, v: unknown) => {
    if (typeof v !== "string") return fault(line, 'must be a JSON string or { "value": "..." }');
    values.push(v);
    if (values.length > maxListEntries) throw new ImportFileError(`${file}: more than ${maxListEntries} values`);
  };
  if (format === "ndjson") {
    let line = 0;
    for await (const text of readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })) {
      line++;
      if (!text.trim()) continue;
      try {
        const v = JSON.parse(text) as unknown;
        push(line, v !== null && typeof v === "object" && "value" in v ? (v as { value: unknown }).value : v);
      } catch {
        fault(line, "not valid JSON");
      }
    }
  } else {
    const parser = fs.createReadStream(file).pipe(parseCsv({ columns: true, bom: true, skip_empty_lines: true, trim: true, info: true }));
    try {
      for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
        const key = column ?? Object.keys(record)[0];
        if (key === undefined || !(key in record)) throw new ImportFileError(`${file}: no column '${column ?? "(first)"}' in the header`);
        push(info.lines, record[key]);
      }
    } catch (err) {
      if (err instanceof ImportFileError) throw err;
      throw new ImportFileError(`CSV: ${(err as Error).message}`);
    }
  }
  for (const f of valueFaults(values, (i) => `value ${i + 1}`)) faults.push(`${f.path}: ${f.message}`);
  // What the server takes in one request (lists-router.ts): the values as NDJSON.
  const bytes = values.reduce((n, v) => n + Buffer.byteLength(JSON.stringify(v)) + 1, 0);
  if (bytes > maxListBodyBytes) faults.push(`the values make ${bytes} bytes of NDJSON; one change takes at most ${maxListBodyBytes} (split the file and use --mode add)`);
  if (faults.length) throw new ImportFileError(`${file}: nothing sent; ${faults.slice(0, 20).join("; ")}`);
  return values;
}

/** Sends the values as one change (creating the list first with `create`: an empty list that stays if the server then refuses the change). */
export async function importList(opts: { api: ApiClient; name: string; values: string[]; mode: ListMode; create?: boolean; description?: string }): Promise<ListChangeResult> {
  if (opts.create) {
    const exists = await opts.api.request("GET", `/v1/lists/${encodeURIComponent(opts.name)}`).then(
      () => true,
      (err: { status?: number }) => {
        if (err.status === 404) return false;
        throw err;
      },
    );
    if (!exists) await opts.api.request("POST", "/v1/lists", { name: opts.name, ...(opts.description ? { description: opts.description } : {}) });
  }
  const body = opts.values.map((v) => JSON.stringify(v)).join("\n");
  return opts.api.request<ListChangeResult>("POST", `/v1/lists/${encodeURIComponent(opts.name)}/entries?mode=${opts.mode}`, body, { contentType: "application/x-ndjson" });
}
