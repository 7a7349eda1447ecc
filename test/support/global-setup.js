// jest globalSetup: builds the migrated template databases once per run. It runs outside jest's
// module system (where the generated Prisma client's .js imports do not resolve), so it runs
// the TypeScript builder through tsx in a child process.
const { execFileSync } = require("node:child_process");
const path = require("node:path");

module.exports = async function globalSetup() {
  const root = path.resolve(__dirname, "../..");
  execFileSync(process.execPath, [path.join(root, "node_modules/tsx/dist/cli.mjs"), path.join(__dirname, "build-templates.ts")], {
    cwd: root,
    stdio: "inherit",
    env: process.env,
  });
};
