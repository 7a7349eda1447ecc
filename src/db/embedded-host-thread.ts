// The thread that owns the embedded database: opens PGlite and serves it over the wire protocol
// (embedded-wire-server.ts) to the process's other threads; answers dump and close requests.
import { parentPort, workerData } from "node:worker_threads";
import { PGlite } from "@electric-sql/pglite";
import { type EmbeddedHostRequest, type EmbeddedHostSetup } from "./embedded-host";
import { serveOverWire } from "./embedded-wire-server";

async function main(): Promise<void> {
  const setup = workerData as EmbeddedHostSetup;
  const port = parentPort!;
  let db: PGlite;
  try {
    db = await PGlite.create(setup.dataDir, setup.loadDataDir ? { loadDataDir: new Blob([setup.loadDataDir]) } : {});
  } catch (err) {
    port.postMessage({ type: "failed", message: err instanceof Error ? err.message : String(err) });
    return;
  }
  const server = await serveOverWire(db, { path: setup.socketPath });
  port.on("message", (req: EmbeddedHostRequest) => {
    void (async () => {
      try {
        if (req.type === "dump") {
          const blob = await db.dumpDataDir("gzip");
          const bytes = new Uint8Array(await blob.arrayBuffer());
          port.postMessage({ type: "reply", id: req.id, bytes }, [bytes.buffer]);
        } else if (req.type === "stats") {
          port.postMessage({ type: "reply", id: req.id, stats: server.stats() });
        } else if (req.type === "close") {
          await server.close();
          await db.close();
          port.postMessage({ type: "reply", id: req.id });
          port.close();
        }
      } catch (err) {
        port.postMessage({ type: "reply", id: req.id, error: err instanceof Error ? err.message : String(err) });
      }
    })();
  });
  port.postMessage({ type: "ready" });
}

void main();
