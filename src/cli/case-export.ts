// `clauseguard cases export`: every case matching the API's filters, page after page from a
// running server's GET /v1/cases, written as CSV (one row per case, csv-stringify) or NDJSON (the
// API's JSON for each case) to a stream, without holding the list in memory.
import { once } from "node:events";
import type { Writable } from "node:stream";
import { stringify } from "csv-stringify";
import { caseStatuses, severities } from "../features/cases/case-model";
import type { CasePage, CaseSummary } from "../features/cases/case-views";
import type { ApiClient } from "./api-client";

export type CaseFilters = Partial<Record<"status" | "severity" | "ruleId" | "accountId" | "assignee" | "from" | "to", string>>;

/** "a, b or c". */
const either = (values: readonly string[]) => `${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`;
/** The help of --status and --severity: the case model's values. */
export const statusHelp = either(caseStatuses);
export const severityHelp = either(severities);

export const csvColumns = [
  "id", "accountId", "ruleId", "ruleVersion", "clauseRef", "clauseText", "severity", "status", "firstSeenAt", "lastSeenAt",
  "hitCount", "assignee", "linkedAccounts", "createdAt", "activityAt", "dismissedAt",
] as const;

const csvRow = (c: CaseSummary) => ({
  ...c,
  clauseRef: c.clause.ref,
  clauseText: c.clause.text,
  assignee: c.assignee ?? "",
  linkedAccounts: c.linkedAccounts.join(" "),
  dismissedAt: c.dismissedAt ?? "",
});

async function write(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, "drain");
}

/** Writes every matching case to `out`; returns how many. */
export async function exportCases(opts: { api: ApiClient; filters: CaseFilters; format: "csv" | "ndjson"; out: Writable }): Promise<number> {
  const query = new URLSearchParams(Object.entries(opts.filters).filter((e): e is [string, string] => e[1] !== undefined));
  query.set("limit", "500");
  const csv = opts.format === "csv" ? stringify({ header: true, columns: [...csvColumns] }) : undefined;
  const piped = csv ? new Promise<void>((resolve, reject) => {
    csv.on("data", (d: Buffer) => {
      if (!opts.out.write(d)) csv.pause();
    });
    opts.out.on("drain", () => csv.resume());
    csv.on("end", resolve);
    csv.on("error", reject);
  }) : undefined;
  let count = 0;
  let cursor: string | null = null;
  do {
    if (cursor) query.set("cursor", cursor);
    const page: CasePage = await opts.api.request("GET", `/v1/cases?${query}`);
    for (const c of page.items) {
      if (csv) {
        if (!csv.write(csvRow(c))) await once(csv, "drain");
      } else {
        await write(opts.out, `${JSON.stringify(c)}\n`);
      }
      count++;
    }
    cursor = page.nextCursor;
  } while (cursor);
  if (csv) {
    csv.end();
    await piped;
  }
  return count;
}
