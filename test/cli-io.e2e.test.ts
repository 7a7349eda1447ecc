// `clauseguard events import` and `clauseguard cases export` as an operator runs them (a child
// process) against a real server over its socket: NDJSON and CSV in, CSV and NDJSON out, with the
// summary, per-line rejections and exit codes scripts rely on.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { run } from "./support/cli";
import { type TestServer, startTestServer } from "./support/test-server";

jest.setTimeout(120_000);

const tmpFile = (name: string, text: string) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cg-io-")), name);
  fs.writeFileSync(file, text);
  return file;
};

describe("events import and cases export", () => {
  let server: TestServer;
  let cli: (args: string[]) => ReturnType<typeof run>;
  beforeAll(async () => {
    server = await startTestServer("pglite", { worker: true });
    cli = (args) => run(args, { CLAUSEGUARD_URL: server.url, CLAUSEGUARD_API_KEY: server.adminKey });
  });
  afterAll(async () => {
    await server.stop();
  });

  const ev = (id: string, extra: Record<string, unknown> = {}) => ({ eventId: id, occurredAt: "2026-11-24T10:00:00Z", accountId: "acct_io", model: "m", inputTokens: 10, outputTokens: 20, ...extra });

  it("imports NDJSON: the summary counts accepted, duplicate and rejected lines, each rejection by line, exit 5", async () => {
    const lines = [
      JSON.stringify(ev("io_1")),
      JSON.stringify(ev("io_2")),
      "{ broken",
      JSON.stringify(ev("io_1")),
      JSON.stringify(ev("io_3", { inputTokens: -1 })),
      "",
      JSON.stringify(ev("io_4")),
    ];
    const file = tmpFile("events.ndjson", `${lines.join("\n")}\n`);
    // A batch of 2 so duplicates and rejections span several requests.
    const r = cli(["events", "import", file, "--batch-size", "2"]);
    expect(await r.exited).toBe(5);
    expect(r.stdout()).toBe(`${file}: 6 event(s) read, 3 accepted, 1 duplicate, 2 rejected\n`);
    expect(r.stderr()).toContain("line 3: not valid JSON\n");
    expect(r.stderr()).toMatch(/line 5: inputTokens: /);
    const stored = await server.call("GET", "/v1/events?accountId=acct_io&limit=500");
    expect(stored.body.items.map((e: { eventId: string }) => e.eventId).sort()).toEqual(["io_1", "io_2", "io_4"]);
  });

  it("imports CSV with typed numbers, signals and attributes, and again as duplicates only (exit 0)", async () => {
    const file = tmpFile(
      "events.csv",
      "eventId,occurredAt,accountId,model,inputTokens,outputTokens,country,signals.reasoningTraceRequest,signals.syntheticDataRequest,attributes.tier\n" +
        "csv_1,2026-11-24T11:00:00Z,acct_csv,m,100,5000,NL,0.75,true,gold\n" +
        "csv_2,2026-11-24T11:01:00Z,acct_csv,m,200,300,,,false,\n",
    );
    const first = cli(["events", "import", file, "--quiet"]);
    expect(await first.exited).toBe(0);
    expect(first.stdout()).toBe(`${file}: 2 event(s) read, 2 accepted, 0 duplicate, 0 rejected\n`);
    const stored = (await server.call("GET", "/v1/events?accountId=acct_csv")).body.items as Record<string, unknown>[];
    const byId = new Map(stored.map((e) => [e.eventId, e]));
    expect(byId.get("csv_1")).toMatchObject({ inputTokens: 100, outputTokens: 5000, country: "NL", signals: { reasoningTraceRequest: 0.75, syntheticDataRequest: true }, attributes: { tier: "gold" } });
    expect(byId.get("csv_2")).toMatchObject({ inputTokens: 200, signals: { syntheticDataRequest: false } });
    expect(byId.get("csv_2")).not.toHaveProperty("country");

    const again = cli(["events", "import", file]);
    expect(await again.exited).toBe(0);
    expect(again.stdout()).toBe(`${file}: 2 event(s) read, 0 accepted, 2 duplicate, 0 rejected\n`);
  });

  it("refuses bad arguments with a message naming them", async () => {
    const unknown = cli(["events", "import", tmpFile("events.txt", "x")]);
    expect(await unknown.exited).toBe(1);
    expect(unknown.stderr()).toContain("unknown format '.txt'");
    const missing = cli(["events", "import", "/nonexistent/events.ndjson"]);
    expect(await missing.exited).toBe(1);
    expect(missing.stderr()).toContain("does not exist");
    const batch = cli(["events", "import", "x.ndjson", "--batch-size", "9000"]);
    expect(await batch.exited).toBe(2);
    expect(batch.stderr()).toMatch(/--batch-size.*1 to 5000/);
    const url = cli(["events", "import", "x.ndjson", "--url", "ftp://x"]);
    expect(await url.exited).toBe(2);
    const noKey = run(["events", "import", "x.ndjson"], { CLAUSEGUARD_URL: server.url });
    expect(await noKey.exited).toBe(2);
    expect(noKey.stderr()).toContain("no API key");
    const wrongKey = run(["cases", "export"], { CLAUSEGUARD_URL: server.url, CLAUSEGUARD_API_KEY: "cg_aaaaaaaaaaaa_nope" });
    expect(await wrongKey.exited).toBe(1);
    expect(wrongKey.stderr()).toMatch(/GET \/v1\/cases.*401/);
    const badFilter = cli(["cases", "export", "--status", "bogus"]);
    expect(await badFilter.exited).toBe(1);
    expect(badFilter.stderr()).toMatch(/400 .*status/);
    const badFormat = cli(["cases", "export", "--format", "xml"]);
    expect(await badFormat.exited).toBe(2);
  });

  it("exports the cases the API lists, with its filters, as NDJSON and CSV", async () => {
    const big = { outputTokens: 5000, signals: { syntheticDataRequest: true } };
    const file = tmpFile("hits.ndjson", ["a", "b", "c"].map((a, i) => JSON.stringify(ev(`hit_${i}`, { accountId: `acct_exp_${a}`, ...big }))).join("\n"));
    expect(await cli(["events", "import", file]).exited).toBe(0);
    for (let i = 0; i < 100 && (await server.call("GET", "/readyz")).body.evaluation.queueDepth > 0; i++) await new Promise((r) => setTimeout(r, 100));
    await server.drain();
    const listed = (await server.call("GET", "/v1/cases?ruleId=extraction.synthetic-data-request&limit=500")).body.items as { id: string; accountId: string }[];
    expect(listed.map((c) => c.accountId).sort()).toEqual(expect.arrayContaining(["acct_exp_a", "acct_exp_b", "acct_exp_c"]));

    const nd = cli(["cases", "export", "--format", "ndjson", "--rule-id", "extraction.synthetic-data-request"]);
    expect(await nd.exited).toBe(0);
    expect(nd.stdout().trim().split("\n").map((l) => JSON.parse(l))).toEqual(listed);

    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cg-io-")), "cases.csv");
    const csv = cli(["cases", "export", "--rule-id", "extraction.synthetic-data-request", "--out", out]);
    expect(await csv.exited).toBe(0);
    expect(csv.stderr()).toContain(`exported ${listed.length} case(s) to ${out}`);
    const rows = parseCsv(fs.readFileSync(out, "utf8"), { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => r.id)).toEqual(listed.map((c) => c.id));
    expect(rows[0]).toMatchObject({ ruleId: "extraction.synthetic-data-request", clauseRef: expect.any(String), status: "open", hitCount: "1" });
    // Never overwrites a file.
    const again = cli(["cases", "export", "--out", out]);
    expect(await again.exited).toBe(2);
    expect(again.stderr()).toContain("already exists");

    const none = cli(["cases", "export", "--account-id", "acct_nobody"]);
    expect(await none.exited).toBe(0);
    expect(none.stdout()).toBe("id,accountId,ruleId,ruleVersion,clauseRef,clauseText,severity,status,firstSeenAt,lastSeenAt,hitCount,assignee,linkedAccounts,createdAt,activityAt,dismissedAt\n");
  });
});
