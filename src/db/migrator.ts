// Applies prisma/migrations in order and records them in Prisma's own _prisma_migrations table,
// with Prisma's checksum, under an advisory lock so that concurrent starts apply each once.
// (`prisma migrate deploy` cannot run through @prisma/adapter-pg: prisma/orm issue 27403.)
import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Database, Sql } from "./database";

export const defaultMigrationsDir = path.resolve(__dirname, "../../prisma/migrations");

/** Arbitrary constant shared by every ClauseGuard process: "CLAUSEGD" as hex. */
const migrationLockKey = "4236936583016097348";

export type Migration = { name: string; sql: string; checksum: string };

export type MigrationStatus = { applied: string[]; pending: string[] };

export class MigrationError extends Error {
  override name = "MigrationError";
}

export function readMigrations(dir = defaultMigrationsDir): Migration[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const bytes = fs.readFileSync(path.join(dir, name, "migration.sql"));
      return { name, sql: bytes.toString("utf8"), checksum: createHash("sha256").update(bytes).digest("hex") };
    });
}

const createTableSql = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

type AppliedRow = { migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null };

async function appliedMigrations(session: Sql): Promise<AppliedRow[]> {
  const exists = await session.query<{ present: boolean }>(
    `SELECT to_regclass('_prisma_migrations') IS NOT NULL AS present`,
  );
  if (!exists[0]?.present) return [];
  return session.query<AppliedRow>(
    `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
  );
}

/** Applies every pending migration; returns the names it applied. */
export async function migrate(db: Database, migrations = readMigrations()): Promise<string[]> {
  return db.withSession(async (session) => {
    await session.query(`SELECT pg_advisory_lock(${migrationLockKey})`);
    try {
      await session.exec(createTableSql);
      const applied = new Map((await appliedMigrations(session)).map((r) => [r.migration_name, r]));
      const done: string[] = [];
      for (const m of migrations) {
        const row = applied.get(m.name);
        if (row) {
          if (!row.finished_at) {
            throw new MigrationError(`migration ${m.name} started earlier but did not finish: repair the database before starting`);
          }
          if (row.checksum !== m.checksum) {
            throw new MigrationError(`migration ${m.name} was changed after it was applied (checksum differs): add a new migration instead`);
          }
          continue;
        }
        // Each migration and its record commit together, or not at all.
        await session.exec("BEGIN");
        try {
          await session.exec(m.sql);
          await session.query(
            `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count, started_at)
             VALUES ($1, $2, now(), $3, 1, now())`,
            [randomUUID(), m.checksum, m.name],
          );
          await session.exec("COMMIT");
        } catch (err) {
          await session.exec("ROLLBACK");
          throw new MigrationError(`migration ${m.name} failed: ${(err as Error).message}`);
        }
        done.push(m.name);
      }
      return done;
    } finally {
      await session.query(`SELECT pg_advisory_unlock(${migrationLockKey})`);
    }
  });
}

/** Which of the migrations are applied and which are pending (for readiness). */
export async function migrationStatus(db: Database, migrations = readMigrations()): Promise<MigrationStatus> {
  const rows = await db.withSession(appliedMigrations);
  const finished = new Set(rows.filter((r) => r.finished_at).map((r) => r.migration_name));
  return {
    applied: migrations.filter((m) => finished.has(m.name)).map((m) => m.name),
    pending: migrations.filter((m) => !finished.has(m.name)).map((m) => m.name),
  };
}
