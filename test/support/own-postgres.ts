// A PostgreSQL server of the test's own (initdb in a temporary folder, a free port), for tests
// that stop and start the database server: the machine's shared server is never restarted.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../scripts/bench-support";

const run = promisify(execFile);

/** The newest installed PostgreSQL's bin folder (Debian keeps them in /usr/lib/postgresql/<major>/bin). */
export function postgresBinDir(): string {
  const root = "/usr/lib/postgresql";
  const majors = fs.existsSync(root) ? fs.readdirSync(root).filter((d) => fs.existsSync(path.join(root, d, "bin", "initdb"))) : [];
  majors.sort((a, b) => Number(b) - Number(a));
  if (!majors.length) throw new Error(`no PostgreSQL server binaries (initdb) under ${root}: install the postgresql package`);
  return path.join(root, majors[0]!, "bin");
}


export type OwnPostgres = {
  url: string;
  start(): Promise<void>;
  /** immediate: like a crash, no shutdown checkpoint; fast: sessions are told the server is shutting down. */
  stop(mode?: "immediate" | "fast"): Promise<void>;
  destroy(): Promise<void>;
};

/** PostgreSQL refuses to run as root: as root (CI), its commands run as the postgres user. */
export async function createOwnPostgres(): Promise<OwnPostgres> {
  const bin = postgresBinDir();
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-pg-"));
  if (asRoot) {
    const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
    const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
    fs.chownSync(dir, uid, gid);
  }
  const pgCmd = (tool: string, args: string[]) => (asRoot ? run("runuser", ["-u", "postgres", "--", path.join(bin, tool), ...args]) : run(path.join(bin, tool), args));
  const data = path.join(dir, "data");
  await pgCmd("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "--no-locale", "-E", "UTF8"]);
  const port = await freePort();
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off`;
  const own: OwnPostgres = {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    start: async () => {
      await pgCmd("pg_ctl", ["-D", data, "-l", path.join(dir, "server.log"), "-o", options, "-w", "-t", "60", "start"]);
    },
    stop: async (mode = "immediate") => {
      await pgCmd("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]);
    },
    destroy: async () => {
      await own.stop("immediate").catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await own.start();
  return own;
}
