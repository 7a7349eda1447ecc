// `npm run demo` as a newcomer runs it: an embedded server on a throw-away folder, generated
// traffic, cases printed as they open, then the summary by clause with the evidence and what the
// generator planted. The smallest scenario (50 accounts), its first 4 hours (about 19,000 events).
import { spawn } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";

const root = path.resolve(__dirname, "..");
const tsx = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href;

function demo(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", tsx, path.join(root, "scripts/demo.ts"), ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    // "close", not "exit": the pipes may still hold unread output when the process exits.
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

describe("npm run demo", () => {
  // The first 4 hours of the day (after the history before it): the mechanics end to end in about
  // 30 s. How well the pack catches a whole scenario is test/policy-pack.e2e.test.ts's job.
  it("posts traffic to an embedded server and shows what was flagged, under which clause, with the evidence", async () => {
    const { code, out, err } = await demo(["--hours", "4"]);
    expect({ code, err: code === 0 ? "" : err.slice(-2000) }).toEqual({ code: 0, err: "" });
    expect(out).toContain("ClauseGuard demo: 50 accounts, the first 4 hour(s) of traffic, seed 1");
    // Cases show while the traffic is still being posted.
    expect(out).toMatch(/^\s+\d+ s {2}[a-z.-]+ \((low|medium|high|critical)\): acct_\S+ \[[a-z-]+\]/m);
    // The watcher saw a case during the run and says when (how soon is a figure for the
    // benchmarks, not a test: under a loaded machine it varies by seconds).
    expect(Number(/First case after (\d+) s\./.exec(out)?.[1])).toBeGreaterThanOrEqual(0);
    expect(out).toMatch(/\d[\d,]* events posted in \d+ s, all evaluated \d+ s later\./);
    // Due process: one planted account suspended, its statement of reasons, its appeal, four eyes.
    expect(out).toMatch(/Due process: acct_\S+ confirmed and suspended\./);
    expect(out).toMatch(/^ {4}Statement of reasons sor_[0-9a-f]{32}$/m);
    expect(out).toMatch(/^ {4}Since .* UTC, your account acct_\S+ is suspended\.$/m);
    expect(out).toMatch(/The holder appealed through the portal: apl_[0-9a-f]{32}, submitted, decision due by /);
    expect(out).toMatch(/The key that enforced tried to decide it and was refused: .*another analyst must review and decide it/);
    // The summary: the clause quoted, the rule, each account with what was planted and the evidence.
    // The pre-banned accounts were suspended at the period's start, so their evaders are caught.
    expect(out).toMatch(
      /Terms of Use, 3\(d\): "You may not use a different account to circumvent a suspension or ban\."\n {2}accounts\.ban-evasion \(critical\): \d+ account\(s\)\n {4}acct_\S+ {2}\[ban-evasion\] {2}linkedSuspendedAccounts = 1 >= 1/,
    );
    expect(out).toMatch(/distillation\.reasoning-trace-volume \(high\): \d+ account\(s\)\n {4}acct_\S+ {2}\[reasoning-extraction\] {2}\S+/);
    const caught = /Caught (\d+) of (\d+) accounts the generator planted a violation in; (\d+) legitimate account\(s\) flagged\./.exec(out);
    expect(caught).not.toBeNull();
    const [, found, planted, legitimate] = caught!.map(Number);
    expect(found).toBeGreaterThanOrEqual(5);
    expect(planted).toBeGreaterThanOrEqual(found!);
    expect(legitimate).toBeLessThanOrEqual(1);
    expect(out).toMatch(/\(\d+ more planted account\(s\) sent no traffic in these 4 hours\.\)/);
    expect(out).toContain("The embedded server is stopped and its folder removed");
  }, 240_000);

  it("refuses a bad argument, naming it", async () => {
    const word = await demo(["--accounts", "many"]);
    expect(word.code).toBe(2);
    expect(word.err).toMatch(/--accounts/);
    const long = await demo(["--hours", "25"]);
    expect(long.code).toBe(2);
    expect(long.err).toMatch(/--hours must be at most the period's 24 hours/);
  });
});
