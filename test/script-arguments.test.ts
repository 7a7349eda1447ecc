// The npm scripts' command lines (generate, eval:policy, the benches) are outside input too: a bad
// option exits 2 with a message naming it, before any work (no database, no folder, no server).
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const root = path.resolve(__dirname, "..");
const tsx = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href;

function script(name: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", tsx, path.join(root, "scripts", `${name}.ts`), ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    // "close", not "exit": stderr may still hold unread output when the process exits.
    child.on("close", (code) => resolve({ code, err }));
  });
}

describe("script arguments", () => {
  it.each([
    ["eval-policy", ["--batch-size", "0"], /^eval:policy: --batch-size must be a whole number from 1 to 10000, got '0'$/m],
    ["eval-policy", ["--batch-size", "20000"], /^eval:policy: --batch-size must be a whole number from 1 to 10000, got '20000'$/m],
    ["eval-policy", ["--acounts", "100"], /^eval:policy: Unknown option '--acounts'/m],
    ["eval-policy", ["--accounts"], /^eval:policy: Option '--accounts <value>' argument missing/m],
    ["eval-policy", ["--workers", "1", "--db", "pglite"], /--workers needs --db postgres/],
    ["eval-policy", ["--so-far"], /--so-far needs --resume-database-url/],
    ["eval-policy", ["--start", "yesterday"], /^eval:policy: --start must be an ISO 8601 date-time such as 2026-11-02T00:00:00Z, got .yesterday.$/m],
    ["eval-policy", ["--db", "mysql"], /^eval:policy: --db must be one of postgres, pglite, got 'mysql'$/m],
    ["bench-eval", ["--eval-batch", "20000"], /^bench:eval: --eval-batch must be a whole number from 1 to 10000, got '20000'$/m],
    ["bench-evaluator", ["--facts", "0"], /^bench:evaluator: --facts must be a whole number from 1 to 1000000, got '0'$/m],
    ["bench-evaluator", ["--evaluator", "jre"], /^bench:evaluator: --evaluator must be one of both, compiled, json-rules-engine, got 'jre'$/m],
    ["bench-ingest", ["--accountMix", "zipf"], /^bench:ingest: --accountMix must be one of heavy, uniform, got 'zipf'$/m],
    ["generate", ["--out", "/nonexistent/x.ndjson", "--accounts", "10"], /^generate: --accounts must be a whole number from 100 up, got '10'$/m],
    ["generate", ["--accounts", "100", "stray"], /^generate: Unexpected argument 'stray'/m],
    ["generate", ["--out", "/nonexistent/x.ndjson", "--ring-accounts", "1.5"], /^generate: --ring-accounts must be a whole number from 0 to 1000000, got '1.5'$/m],
    ["eval-policy", ["--ring-accounts", "20000", "--ring-prefixes", "0"], /^eval:policy: --ring-prefixes must be a whole number from 1 to 65536, got '0'$/m],
    ["bench-ingest", ["--sconds", "5"], /^bench:ingest: Unknown option '--sconds'/m],
    ["demo", ["--hours", "two"], /^demo: --hours must be a whole number from 1 up, got 'two'$/m],
    ["bench-lists", ["--entries", "0"], /^bench:lists: --entries must be a whole number from 1 to 1000000, got '0'$/m],
    ["bench-client", ["--db", "mysql"], /^bench:client: --db must be one of pglite, postgres, got 'mysql'$/m],
  ])("%s %j exits 2 naming the option", async (name, args, message) => {
    const { code, err } = await script(name, args);
    expect({ code, err }).toEqual({ code: 2, err: expect.stringMatching(message) });
  }, 60_000);

  it("leaves no temporary folder behind when eval:policy refuses its arguments", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cg-args-"));
    try {
      const { code } = await script("eval-policy", ["--workers", "1", "--db", "pglite"], { TMPDIR: tmp });
      expect(code).toBe(2);
      // tsx keeps its compile cache there (tsx-<uid>); the run's own folder would be cg-policy-*.
      expect(fs.readdirSync(tmp).filter((f) => f.startsWith("cg-policy-"))).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
