// `clauseguard backup <file>` and `clauseguard restore <file>`: the embedded database (PGlite) to a file and back.
import type { Command } from "commander";
import { loadConfig } from "../../config";
import { backupEmbedded, restoreEmbedded } from "../../db/backup";
import { OperatorError, exitCodes } from "../operator-error";

const postgresBackupHint =
  "DATABASE_URL is set: back PostgreSQL up with its own tools, `pg_dump -Fc -f clauseguard.dump \"$DATABASE_URL\"`, and restore with `pg_restore --no-owner --exit-on-error -d <new database URL> clauseguard.dump` (docs/operations.md: Backup and restore)";

/** The embedded database's folder; with DATABASE_URL set there is none, and PostgreSQL's own tools do the work. */
function embeddedDataDir(): string {
  const config = loadConfig();
  if (config.database.kind !== "pglite") throw new OperatorError(postgresBackupHint, exitCodes.usage);
  return config.database.dataDir;
}

export function registerBackupCommands(program: Command): void {
  program
    .command("backup <file>")
    .description("write the embedded database (CLAUSEGUARD_DATA_DIR) to a new file; stop the server first")
    .action(async (file: string) => {
      const r = await backupEmbedded(embeddedDataDir(), file);
      process.stdout.write(`backed up ${r.events} event(s) and ${r.cases} case(s) to ${r.file} (${r.bytes} bytes)\n`);
    });
  program
    .command("restore <file>")
    .description("load a backup into CLAUSEGUARD_DATA_DIR, which must be new or empty, and apply pending migrations")
    .action(async (file: string) => {
      const dataDir = embeddedDataDir();
      const r = await restoreEmbedded(file, dataDir);
      process.stdout.write(`restored ${r.events} event(s) and ${r.cases} case(s) from ${r.file} into ${dataDir}\n`);
    });
}
