// Compiles the server (src/ → dist/) after `npm ci` (postinstall), so `npm start` on a fresh clone
// runs the built server rather than the sources through tsx. Where src/ is absent (the Docker
// image's dependency layer) there is nothing to build; where dist/main.js is newer than every file
// under src/, nothing to do. `npm run build` always compiles.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** The newest modification time of the files under a folder. */
function newest(dir) {
  let t = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

const config = path.join(root, "tsconfig.build.json");
const built = path.join(root, "dist", "main.js");
const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
if (!fs.existsSync(config) || !fs.existsSync(path.join(root, "src", "main.ts"))) {
  console.log("build-server: no src/ here; skipped");
} else if (!fs.existsSync(tsc)) {
  console.log("build-server: TypeScript is not installed (a production install?); skipped: the bin runs the sources");
} else if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= newest(path.join(root, "src"))) {
  console.log("build-server: dist/ is up to date");
} else {
  execFileSync(process.execPath, [tsc, "-p", config], { cwd: root, stdio: "inherit" });
  console.log("build-server: compiled src/ into dist/");
}
