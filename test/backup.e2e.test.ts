// Backup and restore as docs/operations.md tells an operator to do it: `clauseguard backup|restore` for the
// embedded database, pg_dump -Fc / pg_restore for PostgreSQL. A restored database serves the same
// cases (status, timeline, evidence) and the same keys as the original.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { freshPostgresDatabase, startServerProcess } from "../scripts/bench-support";
import { generateKey } from "../src/features/auth/api-key";
import { run } from "./support/cli";
import { loadEvent } from "./support/load";
import { postgresBinDir } from "./support/own-postgres";
import { repoRulesDir } from "./support/test-server";

jest.setTimeout(120_000);

const exec = promisify(execFile);
const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

async function api(url: string, key: string, method: string, urlPath: string, body?: unknown): Promise<any> {
  const res = await fetch(`${url}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${urlPath} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Cases for three accounts, worked a little: one under investigation with a note, one assigned. */
async function seedCases(url: string, key: string): Promise<void> {
  const events = Array.from({ length: 69 }, (_, n) => loadEvent(`bk-${n}`, `bk-acct-${n % 3}`, n));
  await api(url, key, "POST", "/v1/events", events);
  const until = Date.now() + 60_000;
  let cases: { id: string; accountId: string }[] = [];
  while (cases.length < 3) {
    if (Date.now() > until) throw new Error("the seeded events were not evaluated in 60 s");
    await sleep(200);
    cases = (await api(url, key, "GET", "/v1/cases?limit=500")).items;
  }
  await api(url, key, "POST", `/v1/cases/${cases[0]!.id}/transitions`, { to: "investigating", note: "looking at the template mix" });
  await api(url, key, "PATCH", `/v1/cases/${cases[1]!.id}`, { assignee: "analyst@example.com" });
}

/** Every case with its whole detail, and the keys: what a restore must bring back. */
async function snapshot(url: string, key: string): Promise<unknown> {
  const list = (await api(url, key, "GET", "/v1/cases?limit=500")).items as { id: string }[];
  const details = [];
  for (const c of list) details.push(await api(url, key, "GET", `/v1/cases/${c.id}`));
  const keys = (await api(url, key, "GET", "/v1/keys")).items.map((k: { id: string; name: string; scopes: string[] }) => ({ id: k.id, name: k.name, scopes: k.scopes }));
  return { list, details, keys };
}

const serverEnv = (key: string, env: Record<string, string>) => ({ CLAUSEGUARD_ADMIN_KEY: key, CLAUSEGUARD_RULES_DIR: repoRulesDir, CLAUSEGUARD_EVAL_POLL_MS: "50", ...env });

describe("backup and restore of the embedded database", () => {
  it("clauseguard backup, then restore into a new folder, serves the same cases and keys", async () => {
    const key = generateKey().key;
    const original = { CLAUSEGUARD_DATA_DIR: tmp("cg-orig-") };
    let server = await startServerProcess(serverEnv(key, original), ["serve"]);
    let before: unknown;
    try {
      await seedCases(server.url, key);
      before = await snapshot(server.url, key);
      // While the server holds the folder, a backup is refused rather than taken inconsistently.
      const busy = run(["backup", path.join(tmp("cg-bk-"), "x.tar.gz")], original);
      expect(await busy.exited).toBe(1);
      expect(busy.stderr()).toMatch(/in use by process \d+; stop it first/);
    } finally {
      await server.stop();
    }

    const file = path.join(tmp("cg-bk-"), "clauseguard.tar.gz");
    const backup = run(["backup", file], original);
    expect(await backup.exited).toBe(0);
    expect(backup.stdout()).toMatch(/^backed up 69 event\(s\) and 3 case\(s\) to .*clauseguard\.tar\.gz \(\d+ bytes\)\n$/);
    // A backup never overwrites a file.
    const again = run(["backup", file], original);
    expect(await again.exited).toBe(1);
    expect(again.stderr()).toContain("already exists");

    const restoredDir = path.join(tmp("cg-restored-"), "data");
    const restored = { CLAUSEGUARD_DATA_DIR: restoredDir };
    const restore = run(["restore", file], restored);
    expect(await restore.exited).toBe(0);
    expect(restore.stdout()).toContain("restored 69 event(s) and 3 case(s)");
    // Restoring over a database is refused: the folder must be new or empty.
    const over = run(["restore", file], original);
    expect(await over.exited).toBe(1);
    expect(over.stderr()).toContain("is not empty");
    // Not a backup: refused, nothing created.
    const junk = path.join(tmp("cg-junk-"), "junk.tar.gz");
    fs.writeFileSync(junk, "not a backup");
    const junkDir = path.join(tmp("cg-junkdir-"), "data");
    const bad = run(["restore", junk], { CLAUSEGUARD_DATA_DIR: junkDir });
    expect(await bad.exited).toBe(1);
    expect(bad.stderr()).toContain("is not a ClauseGuard embedded backup");
    expect(fs.existsSync(junkDir)).toBe(false);

    server = await startServerProcess(serverEnv(key, restored), ["serve"]);
    try {
      expect(await snapshot(server.url, key)).toEqual(before);
    } finally {
      await server.stop();
    }
  });

  it("points a PostgreSQL deployment to pg_dump instead", async () => {
    const r = run(["backup", "x.dump"], { DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/none" });
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toContain("pg_dump -Fc");
  });
});

if (process.env.TEST_DATABASE_URL) {
  describe("backup and restore of a PostgreSQL database", () => {
    it("pg_dump -Fc, then pg_restore into a new database, serves the same cases and keys", async () => {
      const key = generateKey().key;
      const source = await freshPostgresDatabase(process.env.TEST_DATABASE_URL!);
      const target = await freshPostgresDatabase(process.env.TEST_DATABASE_URL!);
      try {
        let server = await startServerProcess(serverEnv(key, { DATABASE_URL: source.url }), ["serve"]);
        let before: unknown;
        try {
          await seedCases(server.url, key);
          before = await snapshot(server.url, key);
        } finally {
          await server.stop();
        }
        // The procedure of docs/operations.md, word for word.
        const file = path.join(tmp("cg-pgdump-"), "clauseguard.dump");
        const bin = postgresBinDir();
        await exec(path.join(bin, "pg_dump"), ["-Fc", "-f", file, source.url]);
        await exec(path.join(bin, "pg_restore"), ["--no-owner", "--exit-on-error", "-d", target.url, file]);

        server = await startServerProcess(serverEnv(key, { DATABASE_URL: target.url }), ["serve"]);
        try {
          expect(await snapshot(server.url, key)).toEqual(before);
        } finally {
          await server.stop();
        }
      } finally {
        await source.drop();
        await target.drop();
      }
    });
  });
}
