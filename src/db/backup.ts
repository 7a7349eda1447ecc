// Backup and restore of the embedded database: PGlite's own dump of its data folder (a gzipped
// tarball), taken while no server holds the folder, and loaded into an empty folder. PostgreSQL
// is backed up with its own tools (pg_dump -Fc / pg_restore; see docs/operations.md).
import fs from "node:fs";
import path from "node:path";
import { openDatabase } from "./database";
import { migrate } from "./migrator";

export class BackupError extends Error {
  override name = "BackupError";
}

export type BackupSummary = { file: string; bytes: number; events: number; cases: number };

async function counts(db: Awaited<ReturnType<typeof openDatabase>>): Promise<{ events: number; cases: number }> {
  const [row] = await db.query<{ events: number; cases: number }>({
    text: "SELECT (SELECT count(*) FROM usage_event)::int AS events, (SELECT count(*) FROM violation_case)::int AS cases",
    values: [],
  });
  return row!;
}

/** Writes the embedded database in `dataDir` to `file` (through a temporary file, so a failed backup leaves no half file). */
export async function backupEmbedded(dataDir: string, file: string): Promise<BackupSummary> {
  if (!fs.existsSync(path.join(dataDir, "PG_VERSION"))) throw new BackupError(`${dataDir} holds no embedded database (CLAUSEGUARD_DATA_DIR)`);
  if (fs.existsSync(file)) throw new BackupError(`${file} already exists: choose another file name, a backup never overwrites one`);
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new BackupError(`the folder ${dir} for the backup file does not exist`);
  const db = await openDatabase({ kind: "pglite", dataDir });
  try {
    const summary = await counts(db);
    const dump = await db.dumpDataDir!();
    const tmp = `${file}.partial`;
    fs.writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    fs.renameSync(tmp, file);
    return { file, bytes: fs.statSync(file).size, ...summary };
  } finally {
    await db.close();
  }
}

/** Loads a backup into `dataDir`, which must not hold a database yet, and brings it up to this version's migrations. */
export async function restoreEmbedded(file: string, dataDir: string): Promise<BackupSummary> {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new BackupError(`${file} does not exist or is not a file`);
  const bytes = fs.readFileSync(file);
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) throw new BackupError(`${file} is not a ClauseGuard embedded backup (not gzip data)`);
  if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0) {
    throw new BackupError(`${dataDir} is not empty: restore into a new CLAUSEGUARD_DATA_DIR (or move the old one away first)`);
  }
  let db: Awaited<ReturnType<typeof openDatabase>>;
  try {
    db = await openDatabase({ kind: "pglite", dataDir, loadDataDir: new Blob([bytes]) });
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw new BackupError(`${file} could not be loaded: ${(err as Error).message}`);
  }
  try {
    await migrate(db);
    const summary = { file, bytes: bytes.length, ...(await counts(db)) };
    await db.close();
    return summary;
  } catch (err) {
    await db.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
