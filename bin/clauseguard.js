#!/usr/bin/env node
// `clauseguard`, the package's bin (`npx clauseguard --help`; `npm start` runs `clauseguard serve`):
// runs dist/main.js when `npm ci` (postinstall) or `npm run build` has made it from the current sources, else the
// TypeScript sources through tsx (with a note when dist/ is older than src/).
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const built = path.join(root, "dist", "main.js");

/** The newest modification time under a folder (the sources are a few hundred files). */
function newest(dir) {
  let t = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

const sources = path.join(root, "src");
const hasSources = fs.existsSync(sources);
const useBuilt = fs.existsSync(built) && (!hasSources || fs.statSync(built).mtimeMs >= newest(sources));
if (useBuilt) {
  void require(built).main();
} else {
  if (fs.existsSync(built)) process.stderr.write("clauseguard: dist/ is older than src/: running the sources (npm run build refreshes dist/)\n");
  require("tsx/cjs/api").register();
  void require(path.join(sources, "main.ts")).main();
}
