// The `clauseguard` command in a child process, as an operator runs it, for the process tests.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const root = path.resolve(__dirname, "../..");
const tsxLoader = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href;

export type Run = { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> };

export function run(args: string[], env: Record<string, string>): Run {
  // As `npm start` runs it: one node process with tsx as its loader, so signals reach ClauseGuard itself.
  const child = spawn(process.execPath, ["--import", tsxLoader, path.join(root, "src/main.ts"), ...args], {
    cwd: fs.mkdtempSync(path.join(os.tmpdir(), "cg-cwd-")),
    env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir(), LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/**
 * Waits for a condition (a server's first start: initdb, migrations, the policy pack, through tsx)
 * up to `timeoutMs`: a first start takes about 17 s on a 2-core machine with the suite's two
 * workers busy, and more when more runs share it.
 */
export async function waitFor<T>(fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const startedUrl = (r: Run) => /"url":"(http:\/\/[^"]+)","database"/.exec(r.stdout())?.[1];
