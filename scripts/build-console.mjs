// Builds the analyst console (console/ → dist/console/) with Vite. Run by `npm run build:console`,
// by `npm run build`, and after `npm ci` (postinstall), so `npm start` serves /console on a fresh
// clone. Where console/ is absent (the Docker image's dependency layer) there is nothing to build.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const config = path.join(root, "console", "vite.config.mts");
if (!fs.existsSync(config)) {
  console.log("build-console: no console/ sources here; skipped");
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
