// jest globalSetup: finds the PostgreSQL the tests also run against, then builds the migrated
// template databases once per run. It runs outside jest's module system (where the generated
// Prisma client's .js imports do not resolve), so it runs the TypeScript builder through tsx in a
// child process.
//
// TEST_DATABASE_URL unset: the machine's PostgreSQL at 127.0.0.1:5432 (trust auth) is used when it
// answers, and a line says so either way; the workers, started after this, inherit the variable.
// TEST_DATABASE_URL set to "" runs on PGlite only, on purpose. Under CI=true a PostgreSQL that does
// not answer fails the run.
const { execFileSync } = require("node:child_process");
const path = require("node:path");
const pg = require("pg");

const machinePostgres = "postgresql://postgres@127.0.0.1:5432/postgres";

async function answers(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

module.exports = async function globalSetup() {
  const root = path.resolve(__dirname, "../..");
  if (process.env.TEST_DATABASE_URL === undefined) {
    if (await answers(machinePostgres)) {
      process.env.TEST_DATABASE_URL = machinePostgres;
      process.stderr.write(`\ntests run on PGlite and on the PostgreSQL at ${machinePostgres} (TEST_DATABASE_URL= for PGlite only)\n`);
    } else if (process.env.CI === "true") {
      // CI must test both databases: a PostgreSQL that is down fails the run instead of skipping half of it.
      throw new Error(`CI=true and no PostgreSQL answers at ${machinePostgres}: start it (.ci/run does) or set TEST_DATABASE_URL (empty for PGlite only, on purpose)`);
    } else {
      process.stderr.write(`\nno PostgreSQL answers at ${machinePostgres}: tests run on PGlite only (set TEST_DATABASE_URL to use another)\n`);
    }
  } else if (process.env.TEST_DATABASE_URL === "") {
    process.stderr.write("\nTEST_DATABASE_URL is empty: tests run on PGlite only\n");
  }
  execFileSync(process.execPath, [path.join(root, "node_modules/tsx/dist/cli.mjs"), path.join(__dirname, "build-templates.ts")], {
    cwd: root,
    stdio: "inherit",
    env: process.env,
  });
};
