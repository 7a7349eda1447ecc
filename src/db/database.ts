// Opens ClauseGuard's database: embedded PGlite (a folder, or in memory) or a PostgreSQL server,
// behind one Prisma client, plus raw SQL sessions for the migrator and bulk paths.
import fs from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "../generated/prisma/client";
import { startEmbeddedHost } from "./embedded-host";
import type { SqlQuery } from "./sql";

export type DatabaseTarget =
  /**
   * `thread: true` runs PGlite in a worker thread of its own, reached over a Unix socket with the
   * PostgreSQL driver (what the server does: its HTTP thread must never wait on a statement);
   * without it PGlite runs in the calling thread (CLI commands, most tests).
   */
  | { kind: "pglite"; dataDir?: string; loadDataDir?: Blob; thread?: boolean }
  | { kind: "postgres"; url: string; poolSize?: number };

/**
 * The one handle for SQL (see README.md in this folder): the database itself (each statement on a
 * pooled connection), one connection (withSession) or a transaction. Every repository that writes
 * SQL takes a `Sql`, so the same function runs inside or outside a transaction.
 */
export interface Sql {
  query<T>(query: SqlQuery | string, params?: unknown[]): Promise<T[]>;
  /** Statements without parameters or results (several may be separated by semicolons). */
  exec(text: string): Promise<void>;
}

/** The Prisma client's model API, outside a transaction or inside one opened with `{ orm: true }`. */
export type Orm = Omit<PrismaClient, "$connect" | "$disconnect" | "$on" | "$transaction" | "$extends">;

/** What a transaction opened with `{ orm: true }` hands its callback: SQL and the model API in one transaction. A Database is one too. */
export type OrmSql = Sql & { prisma: Orm };

/**
 * `orm: true`: the transaction is Prisma's (interactive, with its limits: 5 s to run, 2 s to get a
 * connection), so the callback can use the model API (`tx.prisma`) and SQL (`tx.query`, through
 * Prisma's raw queries; `tx.exec` takes one statement there) in it. Without, it runs on the
 * driver: fewer layers per statement, for the hot paths (ingestion, evaluation's effects).
 */
export type OrmTransactionOptions = { orm: true };

export type Database = Sql & {
  kind: DatabaseTarget["kind"];
  prisma: PrismaClient;
  /** Several statements on one connection, outside a transaction (a cursor WITH HOLD, advisory locks). */
  withSession<T>(fn: (session: Sql) => Promise<T>): Promise<T>;
  /** The one way to open a transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  transaction<T>(opts: OrmTransactionOptions, fn: (tx: OrmSql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** PGlite only: the whole data folder as a tarball (test templates are made with it). */
  dumpDataDir?: () => Promise<Blob>;
  /** How another thread of this process reaches the same database (the driver's settings); absent for PGlite in the calling thread. */
  connection?: DatabaseConnection;
};

type DriverTransaction = <T>(fn: (tx: Sql) => Promise<T>) => Promise<T>;

/** The two kinds of transaction behind Database.transaction's one signature. */
function transactionOf(prisma: PrismaClient, onDriver: DriverTransaction): Database["transaction"] {
  function transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  function transaction<T>(opts: OrmTransactionOptions, fn: (tx: OrmSql) => Promise<T>): Promise<T>;
  function transaction<T>(a: ((tx: Sql) => Promise<T>) | OrmTransactionOptions, b?: (tx: OrmSql) => Promise<T>): Promise<T> {
    if (typeof a === "function") return onDriver(a);
    return prisma.$transaction(
      (tx) =>
        b!({
          prisma: tx,
          query: <R>(q: SqlQuery | string, params?: unknown[]) =>
            typeof q === "string" ? tx.$queryRawUnsafe<R[]>(q, ...(params ?? [])) : tx.$queryRawUnsafe<R[]>(q.text, ...q.values),
          exec: async (text) => {
            await tx.$executeRawUnsafe(text);
          },
        }),
    );
  }
  return transaction;
}

/** A database as another thread opens it again (attachDatabase): plain data, so it passes to a worker thread. */
export type DatabaseConnection = { kind: DatabaseTarget["kind"]; pool: pg.PoolConfig; unnamed: boolean };

/** Opens a database another thread of this process has opened (its `connection`), with a pool of its own. */
export async function attachDatabase(c: DatabaseConnection, max = 8): Promise<Database> {
  const db = await openPostgres({ ...c.pool, max }, { unnamed: c.unnamed });
  return { ...db, kind: c.kind, connection: c };
}

const unavailableCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "57P01", "57P03", "08006", "08001", "08003"]);

/** The error says the database could not be reached (down, restarting, connection lost), not that a statement was wrong. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string }; message?: string };
  return (
    unavailableCodes.has(e?.code ?? "") ||
    unavailableCodes.has(e?.cause?.code ?? "") ||
    /Connection terminated|connect ECONNREFUSED|Can't reach database/.test(e?.message ?? "")
  );
}

const abortedCodes = new Set(["40P01", "40001"]);

/** PostgreSQL aborted the transaction as a deadlock victim or a serialization failure: running it again may succeed. */
export function isAbortedTransaction(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } };
  return abortedCodes.has(e?.code ?? "") || abortedCodes.has(e?.cause?.code ?? "");
}

/**
 * Runs a whole transaction again when PostgreSQL aborted it as a deadlock victim or a
 * serialization failure (nothing of it was kept), up to `attempts` times.
 */
export async function retryAborted<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !isAbortedTransaction(err)) throw err;
      await new Promise((r) => setTimeout(r, 10 * i + Math.random() * 20));
    }
  }
}

/** close() may be called by several owners (server stop, test teardown): the first call does the work. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if (target.kind === "postgres") {
    const pool = { connectionString: target.url, options: "-c jit=off" };
    return { ...(await openPostgres({ ...pool, max: target.poolSize ?? 10 })), connection: { kind: "postgres", pool, unnamed: false } };
  }
  return target.thread ? openPgliteThread(target) : openPglite(target);
}

export class DatabaseInUseError extends Error {
  override name = "DatabaseInUseError";
}

/**
 * PGlite is one process's database: a second process opening the same folder would corrupt it.
 * A lock file with the owner's pid refuses the second opener; a stale one (dead pid) is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = path.join(dataDir, "clauseguard.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: "wx" });
      return () => fs.rmSync(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number(fs.readFileSync(lockFile, "utf8"));
      if (owner && owner !== process.pid && isAlive(owner)) {
        throw new DatabaseInUseError(
          `the embedded database in ${dataDir} is in use by process ${owner}; stop it first, or use the HTTP API (e.g. POST /v1/keys) while it runs`,
        );
      }
      fs.rmSync(lockFile, { force: true });
    }
  }
  throw new DatabaseInUseError(`could not lock ${lockFile}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Creates and locks the data folder (none: in memory), then opens the database in it; unlocks again if that fails. */
async function openLocked<T>(dataDir: string | undefined, open: () => Promise<T>): Promise<{ opened: T; unlock: () => void }> {
  if (!dataDir) return { opened: await open(), unlock: () => {} };
  // PGlite does not create missing parent folders.
  fs.mkdirSync(dataDir, { recursive: true });
  const unlock = lockDataDir(dataDir);
  try {
    return { opened: await open(), unlock };
  } catch (err) {
    unlock();
    throw err;
  }
}

/** PGlite itself, or one of its transactions, as a Sql handle. */
function sqlOf(p: Pick<PGlite, "query" | "exec">): Sql {
  return {
    exec: async (text) => {
      await p.exec(text);
    },
    query: async <T>(q: string | SqlQuery, params?: unknown[]) => (typeof q === "string" ? await p.query<T>(q, params) : await p.query<T>(q.text, q.values)).rows,
  };
}

async function openPglite(target: { dataDir?: string; loadDataDir?: Blob }): Promise<Database> {
  const { opened: pglite, unlock } = await openLocked(target.dataDir, () =>
    PGlite.create(target.dataDir, target.loadDataDir ? { loadDataDir: target.loadDataDir } : {}),
  );
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  const session = sqlOf(pglite);
  return {
    kind: "pglite",
    prisma,
    ...session,
    withSession: (fn) => fn(session),
    // PGlite runs one transaction at a time and holds other queries (Prisma's too) until it ends.
    transaction: transactionOf(prisma, (fn) => pglite.transaction((tx) => fn(sqlOf(tx)))),
    dumpDataDir: () => pglite.dumpDataDir("gzip"),
    close: once(async () => {
      await prisma.$disconnect();
      await pglite.close();
      unlock();
    }),
  };
}

/**
 * PGlite in its own thread (embedded-host.ts), used through the PostgreSQL driver over a Unix
 * socket: the same code path as a PostgreSQL server. Statement names are dropped: the connections
 * share PGlite's one session, where a name prepared by one would collide with another's.
 */
async function openPgliteThread(target: { dataDir?: string; loadDataDir?: Blob }): Promise<Database> {
  const { opened: host, unlock } = await openLocked(target.dataDir, () => startEmbeddedHost(target));
  // Connections to the wire server are cheap and wait for the session in line; the pool is sized
  // well above the ingestion limit, so stored batches never starve reads, keys or the worker.
  const db = await openPostgres({ ...host.connection, max: 16 }, { unnamed: true });
  return {
    ...db,
    kind: "pglite",
    connection: { kind: "pglite", pool: { ...host.connection }, unnamed: true },
    dumpDataDir: () => host.dumpDataDir(),
    close: once(async () => {
      await db.close();
      await host.close();
      unlock();
    }),
  };
}

async function openPostgres(poolConfig: pg.PoolConfig, opts: { unnamed?: boolean } = {}): Promise<Database> {
  const pool = new pg.Pool(poolConfig);
  // An idle client that loses its server must not crash the process: the next query reports it.
  pool.on("error", () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const sessionOf = (client: pg.PoolClient): Sql => ({
    exec: async (text) => {
      await client.query(text);
    },
    query: async <T>(q: string | SqlQuery, params?: unknown[]) =>
      (typeof q === "string" ? await client.query(q, params) : await client.query(q.text, q.values)).rows as T[],
  });
  const withSession = async <T>(fn: (session: Sql) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    // The pool listens for errors only on idle clients: a checked-out one whose server goes away
    // emits 'error' with no listener, which would crash the process. Its connection is then
    // discarded instead of going back to the pool.
    let broken: Error | undefined;
    const onError = (err: Error) => (broken = err);
    client.on("error", onError);
    try {
      return await fn(sessionOf(client));
    } catch (err) {
      if (isDatabaseUnavailable(err)) broken ??= err as Error;
      throw err;
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  };
  return {
    kind: "postgres",
    prisma,
    withSession,
    query: async <T>(q: SqlQuery | string, params?: unknown[]) =>
      (typeof q === "string"
        ? await pool.query(q, params)
        : await pool.query(q.name && !opts.unnamed ? { name: q.name, text: q.text, values: q.values } : { text: q.text, values: q.values })
      ).rows as T[],
    exec: async (text) => {
      await pool.query(text);
    },
    transaction: transactionOf(prisma, (fn) =>
      withSession(async (session) => {
        await session.exec("BEGIN");
        try {
          const result = await fn(session);
          await session.exec("COMMIT");
          return result;
        } catch (err) {
          await session.exec("ROLLBACK").catch(() => {});
          throw err;
        }
      }),
    ),
    close: once(async () => {
      await prisma.$disconnect();
      await pool.end();
    }),
  };
}
