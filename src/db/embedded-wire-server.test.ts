// The wire server hands PGlite's one session to one connection at a time: concurrent clients'
// transactions and extended-protocol exchanges never interleave, a failed statement does not
// wedge the session, and a client that vanishes inside a transaction leaves nothing behind.
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { type WireServer, serveOverWire } from "./embedded-wire-server";

describe("embedded wire server", () => {
  let db: PGlite;
  let server: WireServer;
  let dir: string;
  let pool: pg.Pool;
  const connect = (max: number) => new pg.Pool({ host: dir, port: 5432, user: "postgres", database: "postgres", max });

  beforeAll(async () => {
    db = await PGlite.create();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-wire-test-"));
    server = await serveOverWire(db, { path: path.join(dir, ".s.PGSQL.5432") });
    pool = connect(6);
    await pool.query("CREATE TABLE t (id serial PRIMARY KEY, owner int NOT NULL)");
  });
  afterAll(async () => {
    await pool.end();
    await server.close();
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("runs concurrent transactions whole, each seeing only committed rows and its own", async () => {
    await Promise.all(
      Array.from({ length: 6 }, async (_, owner) => {
        for (let i = 0; i < 30; i++) {
          const c = await pool.connect();
          try {
            await c.query("BEGIN");
            await c.query("INSERT INTO t (owner) SELECT $1::int FROM generate_series(1, 10)", [owner]);
            // Parameterized (extended protocol): Parse/Bind/Execute/Sync must not mix with another client's.
            const { rows } = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM t WHERE owner = $1", [owner]);
            expect(rows[0]!.n).toBe((i + 1) * 10);
            if (i === 4) {
              await c.query("ROLLBACK");
              await c.query("INSERT INTO t (owner) SELECT $1::int FROM generate_series(1, 10)", [owner]);
            } else await c.query("COMMIT");
          } finally {
            c.release();
          }
        }
      }),
    );
    const { rows } = await pool.query<{ owner: number; n: number }>("SELECT owner, count(*)::int AS n FROM t GROUP BY owner ORDER BY owner");
    expect(rows).toEqual(Array.from({ length: 6 }, (_, owner) => ({ owner, n: 300 })));
  });

  it("answers a failed statement with its error and goes on serving", async () => {
    await expect(pool.query("SELECT 1 / $1::int", [0])).rejects.toThrow("division by zero");
    const c = await pool.connect();
    try {
      await c.query("BEGIN");
      await expect(c.query("SELECT no_such_column FROM t")).rejects.toThrow("no_such_column");
      await c.query("ROLLBACK");
    } finally {
      c.release();
    }
    expect((await pool.query("SELECT 42 AS a")).rows).toEqual([{ a: 42 }]);
  });

  it("rolls back the transaction of a client that disconnects inside it, and hands the session on", async () => {
    const lost = new pg.Client({ host: dir, port: 5432, user: "postgres", database: "postgres" });
    await lost.connect();
    await lost.query("BEGIN");
    await lost.query("INSERT INTO t (owner) VALUES (99)");
    const waiting = pool.query<{ n: number }>("SELECT count(*)::int AS n FROM t WHERE owner = 99"); // queued behind the open transaction
    (lost as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await lost.end().catch(() => {});
    expect((await waiting).rows[0]!.n).toBe(0);
    expect(server.stats().queued).toBe(0);
  });

  /** A raw client that sends `bytes` (after a startup exchange when `startup`); resolves once the server has closed it. */
  async function closedAfter(bytes: Buffer | Buffer[], startup: boolean): Promise<void> {
    const socket = net.connect(path.join(dir, ".s.PGSQL.5432"));
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("error", () => {});
    if (startup) {
      const received: Buffer[] = [];
      socket.on("data", (d) => received.push(d));
      socket.write(startupPacket());
      await waitFor(() => Buffer.concat(received).includes(0x5a)); // ReadyForQuery
    }
    for (const part of Array.isArray(bytes) ? bytes : [bytes]) {
      socket.write(part);
      await new Promise((r) => setTimeout(r, 10)); // separate reads on the server's side
    }
    await closed;
  }

  it.each([
    ["a startup length of 0 with the SSL request code", Buffer.from([0, 0, 0, 0, 0x04, 0xd2, 0x16, 0x2f])],
    ["a startup length under its header", Buffer.from([0, 0, 0, 4, 0, 3, 0, 0])],
    ["a startup length over 10,000 bytes", Buffer.from([0, 0, 0x27, 0x15, 0, 3, 0, 0])], // 10,005: a body of 10,001
  ])("closes a client that sends %s, and goes on serving", async (_, bytes) => {
    await closedAfter(bytes, false);
    expect((await pool.query("SELECT 8 AS a")).rows).toEqual([{ a: 8 }]);
  });

  it.each([
    ["0", [Buffer.from([0x51, 0, 0, 0, 0])]],
    ["-1, its header split over two writes", [Buffer.from([0x51, 0xff]), Buffer.from([0xff, 0xff, 0xff])]],
    ["over 1 GiB", [Buffer.from([0x51, 0x40, 0, 0, 0])]],
  ])("closes a client whose message length is %s without taking the session, and goes on serving", async (_, parts) => {
    await closedAfter(parts, true);
    expect((await pool.query("SELECT 9 AS a")).rows).toEqual([{ a: 9 }]);
    expect(server.stats().queued).toBe(0);
  });

  /** A raw client: the startup exchange, then the given protocol messages, then gone without a Sync. */
  async function leaveMidExchange(messages: Buffer[], expectError: boolean): Promise<void> {
    const socket = net.connect(path.join(dir, ".s.PGSQL.5432"));
    const received: Buffer[] = [];
    socket.on("data", (d) => received.push(d));
    const seen = (byte: number) => Buffer.concat(received).includes(byte);
    socket.write(startupPacket());
    await waitFor(() => seen(0x5a)); // ReadyForQuery
    received.length = 0;
    socket.write(Buffer.concat([...messages, message(0x48, Buffer.alloc(0))])); // ... then Flush, no Sync
    await waitFor(() => (expectError ? seen(0x45) : seen(0x43))); // ErrorResponse, or CommandComplete
    socket.destroy();
  }

  it("hands on an idle session when a client leaves after an error, before its Sync", async () => {
    await leaveMidExchange([message(0x50, Buffer.from("\0SELECT FROM no_such_table\0\0\0"))], true);
    expect((await pool.query("SELECT 7 AS a")).rows).toEqual([{ a: 7 }]);
  });

  it("commits nothing of an exchange whose client left before its Sync", async () => {
    const insert = Buffer.from("\0INSERT INTO t (owner) VALUES (77)\0\0\0");
    const bind = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]); // unnamed portal and statement, no parameters or formats
    const execute = Buffer.from([0, 0, 0, 0, 0]); // unnamed portal, no row limit
    await leaveMidExchange([message(0x50, insert), message(0x42, bind), message(0x45, execute)], false);
    expect((await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM t WHERE owner = 77")).rows[0]!.n).toBe(0);
  });
});

/** A protocol 3.0 startup packet for user and database postgres. */
function startupPacket(): Buffer {
  const startup = Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 3, 0, 0]), Buffer.from("user\0postgres\0database\0postgres\0\0")]);
  startup.writeInt32BE(startup.length, 0);
  return startup;
}

/** A typed protocol message: its type byte, its length, its body. */
function message(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}
