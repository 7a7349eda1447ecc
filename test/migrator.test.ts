// The project's own migrator, on every test database: applies each migration once, records it
// as Prisma does, is safe when two processes start at once, and refuses a changed migration.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { openDatabase } from "../src/db/database";
import { MigrationError, defaultMigrationsDir, migrate, migrationStatus, readMigrations } from "../src/db/migrator";
import { serverUrl, testTargets } from "./support/test-database";

async function emptyDatabase(kind: "pglite" | "postgres") {
  if (kind === "pglite") {
    const db = await openDatabase({ kind: "pglite" });
    return { db, open: async () => db, drop: () => db.close() };
  }
  const name = `clauseguard_mig_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const opened: Awaited<ReturnType<typeof openDatabase>>[] = [];
  const open = async () => {
    const db = await openDatabase({ kind: "postgres", url: serverUrl(name) });
    opened.push(db);
    return db;
  };
  const db = await open();
  return {
    db,
    open,
    drop: async () => {
      for (const d of opened) await d.close();
      const c = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

describe.each(testTargets())("migrator on %s", (kind) => {
  it("applies every migration once and records it as Prisma does", async () => {
    const { db, drop } = await emptyDatabase(kind);
    try {
      const all = readMigrations();
      expect(await migrationStatus(db)).toEqual({ applied: [], pending: all.map((m) => m.name) });
      expect(await migrate(db)).toEqual(all.map((m) => m.name));
      expect(await migrate(db)).toEqual([]);
      const rows = await db.withSession((s) =>
        s.query<{ migration_name: string; checksum: string; applied_steps_count: number; finished_at: Date | null }>(
          `SELECT migration_name, checksum, applied_steps_count, finished_at FROM _prisma_migrations ORDER BY migration_name`,
        ),
      );
      const first = all[0]!;
      const fileBytes = fs.readFileSync(path.join(defaultMigrationsDir, first.name, "migration.sql"));
      expect(rows[0]).toMatchObject({
        migration_name: first.name,
        checksum: createHash("sha256").update(fileBytes).digest("hex"),
        applied_steps_count: 1,
      });
      expect(rows[0]!.finished_at).not.toBeNull();
      expect(rows).toHaveLength(all.length);
      expect(await migrationStatus(db)).toEqual({ applied: all.map((m) => m.name), pending: [] });
    } finally {
      await drop();
    }
  });

  it("refuses to start on a migration changed after it was applied", async () => {
    const { db, drop } = await emptyDatabase(kind);
    try {
      await migrate(db);
      const changed = readMigrations().map((m, i) => (i === 0 ? { ...m, checksum: "0".repeat(64) } : m));
      await expect(migrate(db, changed)).rejects.toThrow(MigrationError);
      await expect(migrate(db, changed)).rejects.toThrow(/changed after it was applied/);
    } finally {
      await drop();
    }
  });

  it("rolls back a failing migration with its record", async () => {
    const { db, drop } = await emptyDatabase(kind);
    try {
      const broken = [...readMigrations(), { name: "29990101000000_broken", sql: "CREATE TABLE ok_part (x int); SELECT * FROM no_such_table;", checksum: "1".repeat(64) }];
      await expect(migrate(db, broken)).rejects.toThrow(/29990101000000_broken failed/);
      const status = await migrationStatus(db, broken);
      expect(status.pending).toEqual(["29990101000000_broken"]);
      const tables = await db.withSession((s) => s.query<{ t: string | null }>(`SELECT to_regclass('ok_part')::text AS t`));
      expect(tables[0]!.t).toBeNull();
    } finally {
      await drop();
    }
  });

  if (kind === "postgres") {
    it("applies each migration once when several processes start at once", async () => {
      const { open, drop } = await emptyDatabase(kind);
      try {
        const dbs = await Promise.all([open(), open(), open(), open()]);
        const results = await Promise.all(dbs.map((d) => migrate(d)));
        const total = results.flat();
        expect(total.sort()).toEqual(readMigrations().map((m) => m.name).sort());
        const rows = await dbs[0]!.withSession((s) => s.query<{ n: string }>(`SELECT count(*)::text AS n FROM _prisma_migrations`));
        expect(rows[0]!.n).toBe(String(readMigrations().length));
      } finally {
        await drop();
      }
    });
  }
});

describe("readMigrations", () => {
  it("reads folders in name order with sha256 checksums", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-migs-"));
    for (const [name, sql] of [["2_b", "SELECT 2;"], ["1_a", "SELECT 1;"]]) {
      fs.mkdirSync(path.join(dir, name!));
      fs.writeFileSync(path.join(dir, name!, "migration.sql"), sql!);
    }
    fs.writeFileSync(path.join(dir, "migration_lock.toml"), "");
    const ms = readMigrations(dir);
    expect(ms.map((m) => m.name)).toEqual(["1_a", "2_b"]);
    expect(ms[0]!.checksum).toBe(createHash("sha256").update("SELECT 1;").digest("hex"));
  });
});
