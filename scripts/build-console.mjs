// Builds the analyst console (console/ → dist/console/) with Vite. Run by `npm run build:console`,
// by `npm run build`, and after `npm ci` (postinstall), so `npm start` serves /console on a fresh
// clone. Where console/ is absent (the Docker image's dependency layer) there is nothing to build;
// where dist/console/ is newer than every file under console/, the model files the console shares
// with the server (src/**/*-model.ts, *-views.ts) and the lock file, nothing to do (`--force` builds
// anyway), so a build never rewrites the files a running server is serving for nothing.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const config = path.join(root, "console", "vite.config.mts");
/** The newest modification time of the files under a folder (those whose name passes `only`). */
function newest(dir, only = () => true) {
  let t = 0;
  if (!fs.existsSync(dir)) return t;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) t = Math.max(t, newest(p, only));
    else if (only(entry.name)) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}
/** The server's files the console imports (the statuses, the answers' types): see console/src/api.ts. */
const sharedWithServer = (name) => /-(model|views)\.ts$/.test(name);

const built = path.join(root, "dist", "console", "index.html");
if (!fs.existsSync(config)) {
  console.log("build-console: no console/ sources here; skipped");
} else if (
  !process.argv.includes("--force") &&
  fs.existsSync(built) &&
  // The sources, the model files, and the lock file (a new React, uPlot or Vite makes a new bundle).
  fs.statSync(built).mtimeMs >=
    Math.max(newest(path.join(root, "console")), newest(path.join(root, "src"), sharedWithServer), fs.statSync(path.join(root, "package-lock.json")).mtimeMs)
) {
  console.log("build-console: dist/console/ is up to date");
} else {
  let vite;
  try {
    vite = await import("vite");
  } catch (err) {
    // A production install (npm ci --omit=dev) has no Vite: the server then answers 503 at /console.
    if (err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
    console.log("build-console: Vite is not installed (a production install?); skipped: /console answers 503 until it is built");
  }
  if (vite) {
    await vite.build({ configFile: config });
    console.log("build-console: dist/console/ is built");
  }
}
