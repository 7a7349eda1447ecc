// Runs the embedded database (PGlite) in a worker thread of its own and tells where to connect to
// it: a Unix socket in a private temporary folder. The HTTP API and the evaluation worker then
// use the same driver as with a PostgreSQL server, and a long statement never stops the thread
// that answers HTTP.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { threadScript } from "../shared/thread-script";

export type EmbeddedHostSetup = { dataDir?: string; loadDataDir?: Uint8Array; socketPath: string };
export type EmbeddedHostRequest = { id: number; type: "dump" | "close" | "stats" };
type Reply = { type: "reply"; id: number; error?: string; bytes?: Uint8Array; stats?: { connections: number; queued: number } };
type HostMessage = { type: "ready" } | { type: "failed"; message: string } | Reply;

export type EmbeddedHost = {
  /** node-postgres connection settings for the socket. */
  connection: { host: string; port: number; user: string; database: string };
  dumpDataDir(): Promise<Blob>;
  /** Connections to the database and how many wait for its one session. */
  stats(): Promise<{ connections: number; queued: number }>;
  close(): Promise<void>;
};

/** Socket folders of processes that died without cleaning up (kill -9) are removed by the next start. */
function removeStaleSocketDirs(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    const pid = Number(/^clauseguard-db-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ESRCH") fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
    }
  }
}

/**
 * `onLost`: the thread died after it started (the process cannot go on without its database).
 * The default logs to stderr and asks the process to shut down as on SIGTERM.
 */
export async function startEmbeddedHost(
  target: { dataDir?: string; loadDataDir?: Blob },
  onLost: (err: Error) => void = (err) => {
    process.stderr.write(`clauseguard: the embedded database's thread stopped: ${err.message}; shutting down\n`);
    process.exitCode = 1;
    process.kill(process.pid, "SIGTERM");
  },
): Promise<EmbeddedHost> {
  removeStaleSocketDirs();
  // PostgreSQL clients find a Unix socket as <dir>/.s.PGSQL.<port>; the folder is the process's own (0700).
  const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), `clauseguard-db-${process.pid}-`));
  const port = 5432;
  const setup: EmbeddedHostSetup = {
    dataDir: target.dataDir,
    loadDataDir: target.loadDataDir ? new Uint8Array(await target.loadDataDir.arrayBuffer()) : undefined,
    socketPath: path.join(socketDir, `.s.PGSQL.${port}`),
  };
  const worker = new Worker(threadScript(__filename, "embedded-host-thread"), { eval: true, workerData: setup });
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited: Error | undefined;
  let closing: Promise<void> | undefined;
  const removeSocketDir = () => fs.rmSync(socketDir, { recursive: true, force: true });

  let started = false;
  const ready = new Promise<void>((resolve, reject) => {
    worker.on("message", (m: HostMessage) => {
      if (m.type === "ready") resolve();
      else if (m.type === "failed") reject(new Error(m.message));
      else {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.error) p?.reject(new Error(m.error));
        else p?.resolve(m);
      }
    });
    worker.on("error", (err) => {
      exited = err;
      if (started && !closing) onLost(err);
      reject(err);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    });
    worker.on("exit", (code) => {
      if (started && !closing && !exited) onLost(new Error(`it exited with code ${code}`));
      exited ??= new Error(`the embedded database's thread exited (code ${code})`);
      reject(exited);
      for (const p of pending.values()) p.reject(exited);
      pending.clear();
    });
  });
  try {
    await ready;
    started = true;
  } catch (err) {
    await worker.terminate();
    removeSocketDir();
    throw err;
  }

  const ask = (type: EmbeddedHostRequest["type"]) =>
    new Promise<Reply>((resolve, reject) => {
      if (exited) return reject(exited);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, type } satisfies EmbeddedHostRequest);
    });

  return {
    connection: { host: socketDir, port, user: "postgres", database: "postgres" },
    dumpDataDir: async () => new Blob([(await ask("dump")).bytes!]),
    stats: async () => (await ask("stats")).stats!,
    close: () =>
      (closing ??= (async () => {
        try {
          if (!exited) await ask("close");
        } finally {
          await worker.terminate();
          removeSocketDir();
        }
      })()),
  };
}
