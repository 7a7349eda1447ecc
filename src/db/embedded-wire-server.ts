// Serves one PGlite over the PostgreSQL wire protocol to several client connections, so the
// threads of a process (HTTP API, evaluation) reach the embedded database through the same
// driver (node-postgres) as a PostgreSQL server, while PGlite itself runs in a thread of its own.
//
// PGlite is one backend session. A connection therefore holds the session from its first message
// until PGlite answers ReadyForQuery with the idle status ('I'): an extended-protocol exchange
// (Parse/Bind/Execute/Sync) or a whole transaction is never interleaved with another
// connection's. (@electric-sql/pglite-socket's multiplexer interleaves single messages outside
// transactions, which mixes two clients' unnamed statements; hence this small server.)
import net from "node:net";
import type { PGlite } from "@electric-sql/pglite";

const sslRequestCode = 80877103;
const cancelRequestCode = 80877102;
const protocolV3 = 196608;
/** PostgreSQL's MAX_STARTUP_PACKET_LENGTH. */
const maxStartupBody = 10_000;
/** PostgreSQL's PQ_LARGE_MESSAGE_LIMIT: the largest message a backend reads. */
const maxMessageLength = 0x3fffffff;
/** A Sync message ('S', length 4). */
const syncMessage = new Uint8Array([0x53, 0, 0, 0, 4]);

/** A FIFO lock on the one session: whoever holds it has PGlite to itself until it is idle again. */
class SessionLock {
  private owner: object | undefined;
  private readonly waiting: { who: object; go: () => void }[] = [];

  async acquire(who: object): Promise<void> {
    if (this.owner === who) return;
    if (!this.owner) {
      this.owner = who;
      return;
    }
    await new Promise<void>((go) => this.waiting.push({ who, go }));
  }

  release(who: object): void {
    if (this.owner !== who) return;
    const next = this.waiting.shift();
    this.owner = next?.who;
    next?.go();
  }

  /** Drops a connection that went away while waiting. */
  forget(who: object): void {
    const i = this.waiting.findIndex((w) => w.who === who);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  holds(who: object): boolean {
    return this.owner === who;
  }

  get queued(): number {
    return this.waiting.length;
  }
}

/**
 * Follows the server's answer to one message, across chunks, and remembers the status of the
 * last ReadyForQuery ('I' idle, 'T' in a transaction, 'E' in a failed transaction).
 */
class ReadyForQueryTracker {
  private header = Buffer.alloc(5);
  private headerFill = 0;
  private bodyLeft = 0;
  private type = 0;
  status: string | undefined;
  /** An ErrorResponse came with no ReadyForQuery after it yet. */
  errored = false;

  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        if (this.type === 0x5a && this.bodyLeft - take === 0) {
          this.status = String.fromCharCode(chunk[i + take - 1]!);
          this.errored = false;
        }
        this.bodyLeft -= take;
        i += take;
        continue;
      }
      this.header[this.headerFill++] = chunk[i++]!;
      if (this.headerFill === 5) {
        this.type = this.header[0]!;
        if (this.type === 0x45) this.errored = true; // ErrorResponse: the backend now skips to the next Sync
        this.bodyLeft = this.header.readInt32BE(1) - 4;
        this.headerFill = 0;
      }
    }
  }
}

export type WireServer = { close(): Promise<void>; stats(): { connections: number; queued: number } };

/** Listens on `listen` (a Unix socket path or a TCP port on 127.0.0.1) and serves `db` to every connection. */
export async function serveOverWire(db: PGlite, listen: { path: string } | { port: number }): Promise<WireServer & { port?: number }> {
  const lock = new SessionLock();
  const connections = new Set<net.Socket>();

  const server = net.createServer((socket) => {
    connections.add(socket);
    socket.setNoDelay(true);
    const me = {};
    let buffered: Buffer = Buffer.alloc(0);
    let started = false;
    let chain = Promise.resolve();
    let closed = false;

    let idle = true;
    /** Follows this connection's answers across its messages (whether one errored since the last ReadyForQuery). */
    const tracker = new ReadyForQueryTracker();
    const release = async () => {
      if (lock.holds(me) && !idle) {
        // The connection left mid-exchange or inside a transaction; the next one must find the
        // session idle, with nothing of this one's work committed. After an error the backend
        // skips every message up to a Sync: send one (the failed work is already undone).
        // Otherwise roll back: an explicit transaction, or the implicit one of an exchange that
        // never reached its Sync (a Sync would commit that one).
        if (tracker.errored) await db.execProtocolRaw(syncMessage).catch(() => {});
        if (!tracker.errored || db.isInTransaction()) await db.exec("ROLLBACK").catch(() => {});
      }
      lock.release(me);
    };

    const run = async (message: Buffer): Promise<void> => {
      await lock.acquire(me);
      if (closed || socket.destroyed) return void (await release());
      idle = false;
      tracker.status = undefined;
      await db.execProtocolRawStream(new Uint8Array(message.buffer, message.byteOffset, message.byteLength), {
        onRawData: (data) => {
          tracker.feed(data);
          if (!socket.destroyed) socket.write(Buffer.from(data));
        },
      });
      if (tracker.status === "I") {
        idle = true;
        lock.release(me);
      }
    };
    const fail = (err: unknown): void => void socket.destroy(err instanceof Error ? err : new Error(String(err)));

    const onData = (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      for (;;) {
        if (!started) {
          if (buffered.length < 8) return;
          const len = buffered.readInt32BE(0);
          const code = buffered.readInt32BE(4);
          // A length under its own header would never consume the buffer; PostgreSQL refuses a
          // startup packet whose body (the length word excluded) is over 10,000 bytes.
          if (len < 8 || len - 4 > maxStartupBody) return void socket.destroy();
          if (buffered.length < len) return;
          const message = buffered.subarray(0, len);
          buffered = buffered.subarray(len);
          if (code === sslRequestCode) {
            socket.write("N");
            continue;
          }
          if (code === cancelRequestCode) {
            socket.end(); // nothing to cancel: statements run to their end
            return;
          }
          if (code !== protocolV3) {
            socket.destroy();
            return;
          }
          started = true;
          chain = chain.then(() => run(Buffer.from(message))).catch(fail);
          continue;
        }
        if (buffered.length < 5) return;
        const declared = buffered.readInt32BE(1);
        // The length counts itself: less is a broken client (-1 would never consume the buffer). Over
        // PostgreSQL's own limit for a message it would buffer without end.
        if (declared < 4 || declared > maxMessageLength) return void socket.destroy();
        const len = 1 + declared;
        if (buffered.length < len) return;
        const message = Buffer.from(buffered.subarray(0, len));
        buffered = buffered.subarray(len);
        if (message[0] === 0x58 /* Terminate */) {
          chain = chain.then(release).then(() => void socket.end(), fail);
          return;
        }
        chain = chain.then(() => run(message)).catch(fail);
      }
    };
    socket.on("data", onData);
    socket.on("error", () => {});
    socket.on("close", () => {
      closed = true;
      connections.delete(socket);
      lock.forget(me);
      chain = chain.then(release, release).catch(() => {});
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if ("path" in listen) server.listen(listen.path, resolve);
    else server.listen(listen.port, "127.0.0.1", resolve);
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : undefined,
    stats: () => ({ connections: connections.size, queued: lock.queued }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of connections) s.destroy();
        server.close(() => resolve());
      }),
  };
}
