// The real command line as an operator runs it: `clauseguard serve` on a fresh embedded database
// prints an admin key once, serves, shuts down cleanly on SIGTERM; bad configuration and a broken
// policy pack stop the start with a message naming the variable, the file and the JSON path.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { run, startedUrl, waitFor } from "./support/cli";
import { repoRulesDir } from "./support/test-server";

// Each test starts servers and waits for them (support/cli.ts waitFor): room for slow first starts.
jest.setTimeout(240_000);

describe("clauseguard serve (embedded database)", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-data-"));
  const env = { CLAUSEGUARD_DATA_DIR: dataDir, PORT: "0", CLAUSEGUARD_RULES_DIR: repoRulesDir };

  it("prints an admin key on first start only, serves with it and stops cleanly on SIGTERM", async () => {
    const first = run(["serve"], env);
    const url = await waitFor(() => startedUrl(first));
    const key = /^ {2}(cg_[a-z0-9]{12}_\S+)$/m.exec(first.stdout())?.[1];
    expect(key).toBeDefined();
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const post = await fetch(`${url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify([{ eventId: "p1", occurredAt: "2026-11-24T10:00:00Z", accountId: "a", model: "m", inputTokens: 1, outputTokens: 1 }]),
    });
    expect(post.status).toBe(202);
    // Evaluation runs in a thread of its own; its counters reach the HTTP thread's /metrics each second.
    const evaluated = async () => Number(/^clauseguard_evaluated_events (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? -1);
    await waitFor(async () => ((await evaluated()) >= 1 ? true : undefined), 10_000);
    expect(await evaluated()).toBe(1);
    // The key is never written to the logs.
    const logLines = first.stdout().split("\n").filter((l) => l.startsWith("{"));
    expect(logLines.join("\n")).not.toContain(key!);

    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(first.stdout()).toContain('"msg":"stopped"');
    expect(fs.existsSync(path.join(dataDir, "clauseguard.lock"))).toBe(false);

    const second = run(["serve"], { ...env, CLAUSEGUARD_EVAL_NICE: "7" });
    const url2 = await waitFor(() => startedUrl(second));
    expect(second.stdout()).not.toMatch(/created an admin API key/);
    // CLAUSEGUARD_EVAL_NICE lowers the evaluation thread alone, by 7 from where the process started
    // (this test's own priority, which the child inherits): the main (HTTP) thread keeps it.
    if (process.platform === "linux") {
      const niceOf = (task: string) => Number(fs.readFileSync(`/proc/${second.child.pid}/task/${task}/stat`, "utf8").split(") ")[1]!.split(" ")[16]);
      const tasks = fs.readdirSync(`/proc/${second.child.pid}/task`);
      const base = os.getPriority();
      expect(base).toBeLessThanOrEqual(11); // else the raised thread could not be told from the others
      expect(niceOf(String(second.child.pid))).toBe(base);
      expect(tasks.filter((t) => niceOf(t) === base + 7)).toHaveLength(1);
    }
    const list = await fetch(`${url2}/v1/events?accountId=a`, { headers: { authorization: `Bearer ${key}` } });
    expect(((await list.json()) as { items: { eventId: string }[] }).items.map((e) => e.eventId)).toEqual(["p1"]);
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
  });

  it("stops with exit code 3 naming the variable when the configuration is bad", async () => {
    const r = run(["serve"], { ...env, PORT: "not-a-port", DATABASE_URL: "mysql://nope" });
    expect(await r.exited).toBe(3);
    expect(r.stderr()).toMatch(/PORT: /);
    expect(r.stderr()).toMatch(/DATABASE_URL: must be a postgresql:\/\/ URL/);
  });

  it("stops with exit code 4 naming the file and JSON path of a broken rule", async () => {
    const rulesDir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-rules-"));
    fs.copyFileSync(path.join(repoRulesDir, "distillation.output-volume.json"), path.join(rulesDir, "distillation.output-volume.json"));
    const bad = JSON.parse(fs.readFileSync(path.join(repoRulesDir, "distillation.output-volume.json"), "utf8"));
    bad.id = "broken.rule";
    bad.conditions.all[0].fact = "outputTokenz";
    fs.writeFileSync(path.join(rulesDir, "broken.rule.json"), JSON.stringify(bad));
    fs.writeFileSync(path.join(rulesDir, "not-json.json"), "{ nope");
    const r = run(["serve"], { ...env, CLAUSEGUARD_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "cg-data-")), CLAUSEGUARD_RULES_DIR: rulesDir });
    expect(await r.exited).toBe(4);
    expect(r.stderr()).toContain(`${path.join(rulesDir, "broken.rule.json")} at conditions.all[0].fact: unknown fact 'outputTokenz'`);
    expect(r.stderr()).toContain(`${path.join(rulesDir, "not-json.json")}: not valid JSON`);
  });

  it("creates, lists and revokes keys from the command line, with exit codes scripts can rely on", async () => {
    const keysEnv = { ...env, CLAUSEGUARD_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "cg-data-")) };
    const create = run(["keys", "create", "--name", "gateway", "--scopes", "events:write,cases:read"], keysEnv);
    expect(await create.exited).toBe(0);
    const created = JSON.parse(create.stdout().trim()) as { id: string; key: string };
    expect(created.key).toMatch(new RegExp(`^cg_${created.id}_`));

    const list = run(["keys", "list"], keysEnv);
    expect(await list.exited).toBe(0);
    const listed = list.stdout().trim().split("\n").map((l) => JSON.parse(l) as { id: string; name: string; scopes: string[] });
    expect(listed).toEqual([expect.objectContaining({ id: created.id, name: "gateway", scopes: ["events:write", "cases:read"] })]);
    expect(list.stdout()).not.toContain(created.key.slice("cg_".length + 13)); // the secret, after cg_<id>_

    const revoke = run(["keys", "revoke", created.id], keysEnv);
    expect(await revoke.exited).toBe(0);
    const after = run(["keys", "list"], keysEnv);
    expect(await after.exited).toBe(0);
    expect(JSON.parse(after.stdout().trim()).revokedAt).not.toBeNull();

    const badScope = run(["keys", "create", "--name", "x", "--scopes", "events:rite"], keysEnv);
    expect(await badScope.exited).toBe(2);
    expect(badScope.stderr()).toMatch(/unknown scope\(s\) events:rite/);
    const unknown = run(["keys", "revoke", "aaaaaaaaaaaa"], keysEnv);
    expect(await unknown.exited).toBe(1);
    expect(unknown.stderr()).toMatch(/API key 'aaaaaaaaaaaa' does not exist/);
  }, 240_000);

  it("validates rule files from the command line: exit 0, or 4 with every fault", async () => {
    const ok = run(["rules", "validate", repoRulesDir], env);
    expect(await ok.exited).toBe(0);
    expect(ok.stdout()).toMatch(/rule file\(s\) valid: .*distillation\.output-volume/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-rules-"));
    fs.writeFileSync(path.join(dir, "x.json"), JSON.stringify({ id: "x", conditions: { all: [] } }));
    const bad = run(["rules", "validate", path.join(dir, "x.json")], env);
    expect(await bad.exited).toBe(4);
    expect(bad.stderr()).toContain("at conditions.all: must not be empty");
    expect(bad.stderr()).toContain("at severity:");
  });

  it("backtests a rule file from the command line against the configured database", async () => {
    const btEnv = { ...env, CLAUSEGUARD_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "cg-data-")) };
    const server = run(["serve"], btEnv);
    const url = await waitFor(() => startedUrl(server));
    const key = /^ {2}(cg_[a-z0-9]{12}_\S+)$/m.exec(server.stdout())?.[1];
    const events = [0, 1, 2].map((i) => ({ eventId: `bt${i}`, occurredAt: `2026-11-24T10:0${i}:00Z`, accountId: "a", model: "m", inputTokens: 1, outputTokens: 5000, signals: { syntheticDataRequest: i !== 1 } }));
    await fetch(`${url}/v1/events`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(events) });
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);

    const file = path.join(repoRulesDir, "extraction.synthetic-data-request.json");
    const bt = run(["rules", "backtest", file, "--from", "2026-11-24T00:00:00Z", "--to", "2026-11-25T00:00:00Z"], btEnv);
    expect(await bt.exited).toBe(0);
    expect(JSON.parse(bt.stdout())).toMatchObject({ ruleId: "extraction.synthetic-data-request", eventsEvaluated: 3, accountsHit: 1, hits: [{ accountId: "a", hitCount: 2 }] });
    const backwards = run(["rules", "backtest", file, "--from", "2026-11-25T00:00:00Z", "--to", "2026-11-24T00:00:00Z"], btEnv);
    expect(await backwards.exited).toBe(2);
  });

  it("requeues dead-lettered events from the command line (none on a fresh database)", async () => {
    const r = run(["evaluation", "retry-failed"], { ...env, CLAUSEGUARD_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "cg-data-")) });
    expect(await r.exited).toBe(0);
    expect(r.stdout()).toBe("requeued 0 event(s)\n");
    const wrong = run(["evaluation", "retry-everything"], env);
    expect(await wrong.exited).toBe(2);
  });

  it("refuses a second process on the same embedded database", async () => {
    const first = run(["serve"], env);
    await waitFor(() => startedUrl(first));
    const second = run(["keys", "list"], env);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toMatch(/in use by process \d+/);
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
  });

  it("runs as the package's bin (npx clauseguard, npm start), from dist/ when built, else from the sources", async () => {
    const bin = path.resolve(__dirname, "../bin/clauseguard.js");
    const child = spawn(process.execPath, [bin, "keys", "generate"], { env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir() }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(out).toMatch(/^cg_[a-z0-9]{12}_\S+\n$/);
  });

  it("npm run build makes a dist/ that serves without tsx", async () => {
    const root = path.resolve(__dirname, "..");
    const build = spawn("npm", ["run", "-s", "build"], { cwd: root, stdio: "ignore" });
    expect(await new Promise((resolve) => build.on("exit", resolve))).toBe(0);
    const child = spawn(process.execPath, [path.join(root, "dist/main.js"), "serve"], {
      cwd: fs.mkdtempSync(path.join(os.tmpdir(), "cg-cwd-")),
      env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "info", PORT: "0", CLAUSEGUARD_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "cg-data-")), CLAUSEGUARD_RULES_DIR: repoRulesDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const url = await waitFor(() => /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1]);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    // The build includes the console, which the built server serves.
    const page = await fetch(`${url}/console`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("/console/assets/");
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 300_000);
});

