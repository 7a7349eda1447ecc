// `npm run demo` as a newcomer runs it: an embedded server on a throw-away folder, a day of
// generated traffic, cases printed as they open, then the summary by clause with the evidence and
// what the generator planted. The smallest scenario (50 accounts, about 70,000 events).
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
    child.on("exit", (code) => resolve({ code, out, err }));
  });
}

describe("npm run demo", () => {
  it("posts a day of traffic to an embedded server and shows what was flagged, under which clause, with the evidence", async () => {
    const { code, out, err } = await demo([]);
    expect({ code, err: code === 0 ? "" : err.slice(-2000) }).toEqual({ code: 0, err: "" });
    // Cases show while the traffic is still being posted.
    expect(out).toMatch(/^\s+\d+ s {2}[a-z.-]+ \((low|medium|high|critical)\): acct_/m);
    expect(out).toMatch(/First case after \d+ s\./);
    // The summary: a clause with its quote, a rule and flagged accounts with the planted pattern and evidence.
    expect(out).toMatch(/Terms of Use, 2\(c\)\(iii\): "You may not use Output to develop models that compete with us\."/);
    expect(out).toMatch(/accounts\.hydra-cluster \(critical\): \d+ account\(s\)\n\s+acct_\S+ {2}\[hydra-(reasoning|synthetic)\] {2}linkedAccounts = \d+ >= 10/);
    const caught = /Caught (\d+) of (\d+) accounts the generator planted a violation in; (\d+) legitimate account\(s\) flagged\./.exec(out);
    expect(caught).not.toBeNull();
    const [, found, planted, legitimate] = caught!.map(Number);
    expect(planted).toBeGreaterThan(100);
    expect(found! / planted!).toBeGreaterThanOrEqual(0.9);
    expect(legitimate).toBeLessThanOrEqual(2);
    expect(out).toContain("The embedded server is stopped and its folder removed");
  }, 420_000);

  it("refuses a bad argument, naming it", async () => {
    const { code, err } = await demo(["--accounts", "many"]);
    expect(code).toBe(2);
    expect(err).toMatch(/--accounts/);
  });
});
