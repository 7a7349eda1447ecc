// A fresh, migrated database per test file: PGlite loaded from a migrated template (always), and
// a PostgreSQL database created from a migrated template database (when TEST_DATABASE_URL is set).
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { type Database, openDatabase } from "../../src/db/database";
import { migrate, readMigrations } from "../../src/db/migrator";

export type TargetKind = "pglite" | "postgres";

/** The databases every integration test runs against. */
export function testTargets(): TargetKind[] {
  return process.env.TEST_DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];
}

/** Templates are keyed by the migrations' checksums: a new migration makes a new template. */
export function migrationsKey(): string {
  const h = createHash("sha256");
  for (const m of readMigrations()) h.update(m.name).update(m.checksum);
  return h.digest("hex").slice(0, 12);
}

export const pgliteTemplatePath = () => path.join(os.tmpdir(), `clauseguard-test-template-${migrationsKey()}.tar.gz`);
export const postgresTemplateName = () => `clauseguard_tpl_${migrationsKey()}`;

export function serverUrl(database: string): string {
  const url = new URL(process.env.TEST_DATABASE_URL!);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Builds the templates once for the whole run (jest globalSetup). */
export async function ensureTemplates(): Promise<void> {
  const file = pgliteTemplatePath();
  if (!fs.existsSync(file)) {
    const db = await openDatabase({ kind: "pglite" });
    await migrate(db);
    const dump = await db.dumpDataDir!();
    await db.close();
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    fs.renameSync(tmp, file);
  }
  if (process.env.TEST_DATABASE_URL) {
    const name = postgresTemplateName();
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    try {
      const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      if (exists.rowCount === 0) {
        const building = `${name}_build_${randomBytes(4).toString("hex")}`;
        await admin.query(`CREATE DATABASE "${building}"`);
        const db = await openDatabase({ kind: "postgres", url: serverUrl(building) });
        await migrate(db);
        await db.close();
        try {
          await admin.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
        } catch {
          await admin.query(`DROP DATABASE IF EXISTS "${building}"`); // another run made it first
        }
      }
    } finally {
      await admin.end();
    }
  }
}

export type TestDatabase = { db: Database; kind: TargetKind; drop(): Promise<void> };

/** `ownThread`: PGlite in a thread of its own behind its wire server, as the server runs it (PostgreSQL: no effect). */
export async function createTestDatabase(kind: TargetKind, opts: { ownThread?: boolean } = {}): Promise<TestDatabase> {
  if (kind === "pglite") {
    const loadDataDir = new Blob([fs.readFileSync(pgliteTemplatePath())]);
    const db = await openDatabase({ kind: "pglite", loadDataDir, thread: opts.ownThread });
    return { db, kind, drop: () => db.close() };
  }
  const name = `clauseguard_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${postgresTemplateName()}"`);
  } finally {
    await admin.end();
  }
  const db = await openDatabase({ kind: "postgres", url: serverUrl(name) });
  return {
    db,
    kind,
    drop: async () => {
      await db.close();
      const c = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
