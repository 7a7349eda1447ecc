// POST /v1/events and GET /v1/events over HTTP, on every test database: authentication and scopes,
// per-item validation with field paths, idempotency (in a batch, across batches, under concurrency),
// NDJSON, whole-request rejections that store nothing, and the filtered, cursor-paginated list.
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { type TestServer, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { usageEvent } from "./support/factories";

type Res = { status: number; body: any; headers: Headers };

/** An RFC 9457 answer: the status, the problem+json content type, and the problem's own fields. */
function expectProblem(res: Res, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, title: expect.any(String), detail: expect.any(String), type: expect.stringContaining("clauseguard") });
}

/** Every stored event of the list's filter, following the cursors to the end. */
async function listAll(server: TestServer, query: string, key?: string): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const res: Res = await server.call("GET", `/v1/events?${query}&limit=500${cursor ? `&cursor=${cursor}` : ""}`, { key });
    expect(res.status).toBe(200);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return items;
}

const idsOf = (items: { eventId: string }[]) => items.map((e) => e.eventId);

describe.each(testTargets())("usage events API on %s", (kind) => {
  let server: TestServer;
  let writerKey: string;
  let readerKey: string;

  async function createKey(scopes: string[]): Promise<string> {
    const res = await server.call("POST", "/v1/keys", { body: { name: `test ${scopes.join(",")}`, scopes } });
    expect(res.status).toBe(201);
    return res.body.key;
  }

  beforeAll(async () => {
    server = await startTestServer(kind);
    writerKey = await createKey(["events:write"]);
    readerKey = await createKey(["cases:read"]);
  });
  afterAll(async () => {
    await server.stop();
  });

  describe("authentication and scopes", () => {
    it("answers 401 problem+json without a key, with a malformed key and with a wrong secret, storing nothing", async () => {
      const event = usageEvent({ accountId: "acct_unauth" });
      const keyId = /^cg_([a-z0-9]{12})_/.exec(server.adminKey)![1]!;
      const wrongSecret = `cg_${keyId}_${"A".repeat(43)}`;
      for (const key of [null, "not-a-key", "cg_short_abc", wrongSecret]) {
        const post = await server.call("POST", "/v1/events", { body: [event], key });
        expectProblem(post, 401, "unauthorized");
        expect(post.headers.get("www-authenticate")).toBe('Bearer realm="clauseguard"');
        const get = await server.call("GET", "/v1/events", { key });
        expectProblem(get, 401, "unauthorized");
      }
      // A scheme other than Bearer is not a key either.
      const basic = await fetch(`${server.url}/v1/events`, { headers: { authorization: `Basic ${Buffer.from("u:p").toString("base64")}` } });
      expect(basic.status).toBe(401);
      expect(basic.headers.get("content-type")).toMatch(/^application\/problem\+json/);

      expect(await listAll(server, "accountId=acct_unauth")).toEqual([]);
    });

    it("answers 403 to a key without events:write, and lets the events:write key in", async () => {
      const event = usageEvent({ accountId: "acct_scopes" });
      const denied = await server.call("POST", "/v1/events", { body: [event], key: readerKey });
      expectProblem(denied, 403, "forbidden");
      expect(denied.body.detail).toContain("events:write");
      expect(await listAll(server, "accountId=acct_scopes")).toEqual([]);

      const ok = await server.call("POST", "/v1/events", { body: [event], key: writerKey });
      expect(ok.status).toBe(202);
      expect(ok.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });

      // Reading events needs cases:read: the gateway's write-only key cannot read them back.
      expectProblem(await server.call("GET", "/v1/events?accountId=acct_scopes", { key: writerKey }), 403, "forbidden");
      expect(idsOf(await listAll(server, "accountId=acct_scopes", readerKey))).toEqual([event.eventId]);
    });
  });

  describe("POST /v1/events", () => {
    it("stores every field of a valid event and gives it back normalized", async () => {
      const event = usageEvent({
        accountId: "acct_full",
        occurredAt: "2026-11-24T20:00:00.250+01:00",
        orgId: "org_9",
        apiKeyId: "key_abc",
        endpoint: "chat.completions",
        endUserId: "u_42",
        ip: "2001:db8::7",
        ipType: "hosting",
        country: "NL",
        asn: 64500,
        userAgent: "python-httpx/0.27",
        paymentFingerprint: "pmfp_77a",
        promptTemplateHash: "tpl_19c",
        signals: { reasoningTraceRequest: 0.93, syntheticDataRequest: true, jailbreakAttempt: 0 },
        attributes: { region: "eu", nested: { list: [1, "two", null] } },
      });
      const post = await server.call("POST", "/v1/events", { body: [event], key: writerKey });
      expect(post.status).toBe(202);
      expect(post.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });

      const stored = await listAll(server, "accountId=acct_full");
      expect(stored).toEqual([{ ...event, occurredAt: "2026-11-24T19:00:00.250Z", receivedAt: expect.any(String) }]);
      expect(Number.isNaN(Date.parse(stored[0].receivedAt))).toBe(false);
    });

    it("stores the valid items of a mixed batch and reports each invalid one with its index, eventId and field paths", async () => {
      const acct = "acct_mixed";
      const first = usageEvent({ accountId: acct, ip: "203.0.113.7", country: "NL", signals: { jailbreakAttempt: 0.5, syntheticDataRequest: false } });
      const items: unknown[] = [
        first,
        usageEvent({ accountId: acct, outputTokens: -1 }),
        usageEvent({ accountId: acct, occurredAt: "2026-11-24T12:00:00" }),
        usageEvent({ accountId: acct, outputTokenz: 5 }),
        usageEvent({ accountId: acct, ip: "999.1.1.1" }),
        usageEvent({ accountId: acct, country: "nl" }),
        usageEvent({ accountId: acct, signals: { x: 2 } }),
        usageEvent({ accountId: acct, attributes: { blob: "a".repeat(5000) } }),
        // JSON.parse makes "__proto__" an own key, so it goes over the wire as the gateway would send it.
        usageEvent({ accountId: acct, attributes: JSON.parse('{"__proto__": {"isAdmin": true}}') }),
        usageEvent({ accountId: acct, attributes: { nested: JSON.parse('{"constructor": {"prototype": 1}}') } }),
        usageEvent({ accountId: acct, ip: "::ffff:10.0.0.1" }),
        42,
        { ...first, outputTokens: 1 }, // the same eventId again, in the same batch
        (({ accountId: _a, ...rest }) => rest)(usageEvent()),
      ];
      const body = JSON.stringify(items);
      expect(body).toContain('"__proto__"');
      const res = await server.call("POST", "/v1/events", { rawBody: body, key: writerKey });
      expect(res.status).toBe(202);
      expect(res.body.accepted).toBe(2);
      expect(res.body.duplicates).toBe(1);

      const eventIdOf = (i: number) => (items[i] as { eventId: string }).eventId;
      const summary = res.body.rejected.map((r: { index: number; eventId?: string; errors: { path: string }[] }) => ({
        index: r.index,
        eventId: r.eventId,
        paths: r.errors.map((e) => e.path),
      }));
      expect(summary).toEqual([
        { index: 1, eventId: eventIdOf(1), paths: ["[1].outputTokens"] },
        { index: 2, eventId: eventIdOf(2), paths: ["[2].occurredAt"] },
        { index: 3, eventId: eventIdOf(3), paths: ["[3]"] },
        { index: 4, eventId: eventIdOf(4), paths: ["[4].ip"] },
        { index: 5, eventId: eventIdOf(5), paths: ["[5].country"] },
        { index: 6, eventId: eventIdOf(6), paths: ["[6].signals.x"] },
        { index: 7, eventId: eventIdOf(7), paths: ["[7].attributes"] },
        { index: 8, eventId: eventIdOf(8), paths: ["[8].attributes.__proto__"] },
        { index: 9, eventId: eventIdOf(9), paths: ["[9].attributes.nested.constructor"] },
        { index: 11, eventId: undefined, paths: ["[11]"] },
        { index: 13, eventId: eventIdOf(13), paths: ["[13].accountId"] },
      ]);
      const message = (index: number) => res.body.rejected.find((r: { index: number }) => r.index === index).errors[0].message as string;
      expect(message(2)).toMatch(/zone/);
      expect(message(3)).toContain("outputTokenz");
      expect(message(5)).toMatch(/alpha-2/);
      expect(message(6)).toMatch(/\[0, 1\]/);
      expect(message(7)).toMatch(/at most 4096/);
      expect(message(8)).toMatch(/__proto__.*not allowed/);
      expect(res.body.rejected.find((r: { index: number }) => r.index === 11)).not.toHaveProperty("eventId");

      const stored = await listAll(server, `accountId=${acct}`);
      expect(idsOf(stored).sort()).toEqual([first.eventId, eventIdOf(10)].sort());
      // The first occurrence of an eventId is the one kept.
      expect(stored.find((e) => e.eventId === first.eventId)).toMatchObject({ outputTokens: 800, ip: "203.0.113.7", signals: first.signals });
    });

    it("rejects, item by item, text and times the database cannot hold, and still stores the rest of the batch", async () => {
      const acct = "acct_unstorable";
      const nulKey = JSON.parse('{"a\\u0000b": 1}');
      const items = [
        usageEvent({ accountId: acct, eventId: "evt_nul\u0000x" }),
        usageEvent({ accountId: "acct\u0000x" }),
        usageEvent({ accountId: acct, model: "frontier\u0000large" }),
        usageEvent({ accountId: acct, attributes: { note: "a\u0000b" } }),
        usageEvent({ accountId: acct, attributes: { nested: nulKey } }),
        usageEvent({ accountId: acct, attributes: { note: "PAIRLESS" } }),
        usageEvent({ accountId: acct, eventId: "evt_surrogate_PAIRLESS" }),
        usageEvent({ accountId: acct, occurredAt: "0000-01-01T00:00:00Z" }),
        usageEvent({ accountId: acct, attributes: { emoji: "😀", text: "çé" } }),
        usageEvent({ accountId: acct, occurredAt: "2026-11-10T12:00:00+14:00" }),
        usageEvent({ accountId: acct, occurredAt: "2026-11-10T12:00:00+23:59" }),
        usageEvent({ accountId: acct, occurredAt: "9999-12-31T23:59:59.9999Z" }),
      ];
      // A lone surrogate only survives as a JSON escape: write it into the text on the wire.
      const body = JSON.stringify(items).replaceAll("PAIRLESS", "\\ud800");
      const res = await server.call("POST", "/v1/events", { rawBody: body, key: writerKey });
      expect(res.status).toBe(202);
      expect(res.body.accepted).toBe(4);
      expect(res.body.duplicates).toBe(0);
      expect(res.body.rejected.map((r: { index: number; errors: { path: string }[] }) => [r.index, r.errors.map((e) => e.path)])).toEqual([
        [0, ["[0].eventId"]],
        [1, ["[1].accountId"]],
        [2, ["[2].model"]],
        [3, ["[3].attributes.note"]],
        [4, ["[4].attributes.nested.a\u0000b"]],
        [5, ["[5].attributes.note"]],
        [6, ["[6].eventId"]],
        [7, ["[7].occurredAt"]],
      ]);

      const stored = await listAll(server, `accountId=${acct}`);
      expect(stored.map((e) => e.occurredAt).sort()).toEqual(
        ["2026-11-09T12:01:00.000Z", "2026-11-09T22:00:00.000Z", "2026-11-24T12:00:00.000Z", "9999-12-31T23:59:59.999Z"].sort(),
      );
      expect(stored.find((e) => e.eventId === items[8]!.eventId).attributes).toEqual({ emoji: "😀", text: "çé" });
      // The list of every account still reads, the far-future event included.
      expect((await server.call("GET", "/v1/events?limit=5", { key: readerKey })).status).toBe(200);
    });

    it("takes deeply nested attributes within 4 KB and rejects deeper ones by size, without failing the request", async () => {
      const nestedText = (depth: number, inner = "") => `{"a":${"[".repeat(depth)}${inner}${"]".repeat(depth)}}`;
      const deep = usageEvent({ accountId: "acct_deep", attributes: JSON.parse(nestedText(2000)) });
      const tooDeep = usageEvent({ accountId: "acct_deep", attributes: "DEEP" });
      const proto = usageEvent({ accountId: "acct_deep", attributes: JSON.parse(nestedText(50, '{"__proto__":1}')) });
      // Too deep for JSON.stringify in this process: written into the text on the wire.
      const body = JSON.stringify([deep, tooDeep, proto]).replace('"DEEP"', nestedText(100_000));
      const res = await server.call("POST", "/v1/events", { rawBody: body, key: writerKey });
      expect(res.status).toBe(202);
      expect(res.body.accepted).toBe(1);
      expect(res.body.rejected).toEqual([
        { index: 1, eventId: tooDeep.eventId, errors: [{ path: "[1].attributes", message: expect.stringContaining("at most 4096") }] },
        { index: 2, eventId: proto.eventId, errors: [{ path: `[2].attributes.a${"[0]".repeat(50)}.__proto__`, message: expect.any(String) }] },
      ]);
      const stored = await listAll(server, "accountId=acct_deep");
      expect(idsOf(stored)).toEqual([deep.eventId]);
      expect(stored[0].attributes).toEqual(deep.attributes);
    });

    it("refuses prototype keys as signal names", async () => {
      const body = `[${JSON.stringify(usageEvent({ accountId: "acct_proto" })).replace(/}$/, ',"signals":{"__proto__":1,"constructor":true}}')}]`;
      const res = await server.call("POST", "/v1/events", { rawBody: body });
      expect(res.status).toBe(202);
      expect(res.body.accepted).toBe(0);
      expect(res.body.rejected[0].errors.map((e: { path: string }) => e.path).sort()).toEqual(["[0].signals.__proto__", "[0].signals.constructor"]);
    });

    it("counts a duplicate eventId inside one batch once and stores the event once", async () => {
      const a = usageEvent({ accountId: "acct_dup_in_batch" });
      const b = usageEvent({ accountId: "acct_dup_in_batch" });
      const res = await server.call("POST", "/v1/events", { body: [a, b, { ...a, outputTokens: 5 }], key: writerKey });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ accepted: 2, duplicates: 1, rejected: [] });
      const stored = await listAll(server, "accountId=acct_dup_in_batch");
      expect(idsOf(stored).sort()).toEqual([a.eventId, b.eventId].sort());
      expect(stored.find((e) => e.eventId === a.eventId).outputTokens).toBe(800);
    });

    it("answers a re-posted batch with accepted 0 and every item a duplicate, storing and queueing nothing twice", async () => {
      await server.drain();
      const batch = Array.from({ length: 5 }, (_, i) => usageEvent({ accountId: "acct_repost", occurredAt: `2026-11-24T0${i}:00:00Z` }));
      const first = await server.call("POST", "/v1/events", { body: batch, key: writerKey });
      expect(first.status).toBe(202);
      expect(first.body).toEqual({ accepted: 5, duplicates: 0, rejected: [] });
      expect(await server.drain()).toBe(5);

      const again = await server.call("POST", "/v1/events", { body: batch, key: writerKey });
      expect(again.status).toBe(202);
      expect(again.body).toEqual({ accepted: 0, duplicates: 5, rejected: [] });
      // A re-post with different content under the same ids changes nothing either.
      const altered = await server.call("POST", "/v1/events", { body: batch.map((e) => ({ ...e, outputTokens: 1 })), key: writerKey });
      expect(altered.body).toEqual({ accepted: 0, duplicates: 5, rejected: [] });
      expect(await server.drain()).toBe(0);

      const stored = await listAll(server, "accountId=acct_repost");
      expect(idsOf(stored).sort()).toEqual(idsOf(batch as { eventId: string }[]).sort());
      expect(stored.every((e) => e.outputTokens === 800)).toBe(true);
    });

    it("stores every event once when two requests post the same 200 events at the same time", async () => {
      await server.drain();
      const batch = Array.from({ length: 200 }, (_, i) =>
        usageEvent({ accountId: `acct_conc_${i % 7}`, occurredAt: new Date(Date.parse("2026-11-23T00:00:00Z") + i * 1000).toISOString() }),
      );
      const [a, b] = await Promise.all([
        server.call("POST", "/v1/events", { body: batch, key: writerKey }),
        server.call("POST", "/v1/events", { body: [...batch].reverse(), key: writerKey }),
      ]);
      expect(a.status).toBe(202);
      expect(b.status).toBe(202);
      expect(a.body.accepted + b.body.accepted).toBe(200);
      expect(a.body.duplicates + b.body.duplicates).toBe(200);
      expect(a.body.accepted + a.body.duplicates).toBe(200);
      expect(b.body.accepted + b.body.duplicates).toBe(200);
      expect(a.body.rejected).toEqual([]);
      expect(b.body.rejected).toEqual([]);

      const stored = await listAll(server, "from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z");
      expect(stored).toHaveLength(200);
      expect(new Set(idsOf(stored))).toEqual(new Set(idsOf(batch as { eventId: string }[])));
      // Each stored event is queued for evaluation exactly once.
      expect(await server.drain()).toBe(200);
    });

    it("takes concurrent batches that widen the same accounts' first and last seen without failing any", async () => {
      // Accounts exist first; then 8 requests at once each move all 300 accounts' times, in different orders.
      const accounts = Array.from({ length: 300 }, (_, i) => `acct_widen_${i}`);
      const base = Date.parse("2026-10-10T12:00:00Z");
      await server.call("POST", "/v1/events", { body: accounts.map((a) => usageEvent({ accountId: a, occurredAt: new Date(base).toISOString() })), key: writerKey });
      const posts = Array.from({ length: 8 }, (_, k) => {
        const order = k % 2 ? [...accounts].reverse() : [...accounts.slice(k * 37), ...accounts.slice(0, k * 37)];
        const body = order.map((a, i) => usageEvent({ accountId: a, occurredAt: new Date(base + (k % 2 ? -1 : 1) * (k + 1) * 3_600_000 + i).toISOString() }));
        return server.call("POST", "/v1/events", { body, key: writerKey });
      });
      const answers = await Promise.all(posts);
      expect(answers.map((r) => r.status)).toEqual(Array(8).fill(202));
      expect(answers.reduce((n, r) => n + r.body.accepted, 0)).toBe(8 * 300);
      const account = await server.call("GET", "/v1/accounts/acct_widen_5");
      expect(account.body).toMatchObject({ firstSeenAt: new Date(base - 8 * 3_600_000 + 294).toISOString() });
      await server.drain();
    });

    it("accepts an NDJSON body and rejects only its broken line, by index", async () => {
      const events = Array.from({ length: 4 }, () => usageEvent({ accountId: "acct_ndjson" }));
      const lines = [JSON.stringify(events[0]), JSON.stringify(events[1]), '{"eventId": "evt_broken", "accountId": ', JSON.stringify(events[2]), JSON.stringify(events[3])];
      const res = await server.call("POST", "/v1/events", { rawBody: `${lines.join("\n")}\n`, contentType: "application/x-ndjson", key: writerKey });
      expect(res.status).toBe(202);
      expect(res.body.accepted).toBe(4);
      expect(res.body.duplicates).toBe(0);
      expect(res.body.rejected).toEqual([{ index: 2, errors: [{ path: "[2]", message: expect.stringContaining("not valid JSON") }] }]);
      expect(idsOf(await listAll(server, "accountId=acct_ndjson")).sort()).toEqual(idsOf(events as { eventId: string }[]).sort());

      // An NDJSON line is validated like an array item: its field paths carry the line's index.
      const bad = usageEvent({ accountId: "acct_ndjson", country: "Netherlands" });
      const mixed = await server.call("POST", "/v1/events", {
        rawBody: [JSON.stringify(events[0]), JSON.stringify(bad)].join("\r\n"),
        contentType: "application/x-ndjson",
        key: writerKey,
      });
      expect(mixed.status).toBe(202);
      expect(mixed.body).toEqual({
        accepted: 0,
        duplicates: 1,
        rejected: [{ index: 1, eventId: bad.eventId, errors: [{ path: "[1].country", message: expect.any(String) }] }],
      });
    });

    it("rejects a whole request it cannot take, with problem+json, and stores nothing of it", async () => {
      const acct = "acct_whole";
      const valid = () => usageEvent({ accountId: acct });

      const malformed = await server.call("POST", "/v1/events", { rawBody: `[${JSON.stringify(valid())}, {"eventId": `, key: writerKey });
      expectProblem(malformed, 400, "malformed_body");

      const object = await server.call("POST", "/v1/events", { body: valid(), key: writerKey });
      expectProblem(object, 400, "validation_failed");
      expect(object.body.detail).toMatch(/array/);

      const empty = await server.call("POST", "/v1/events", { body: [], key: writerKey });
      expectProblem(empty, 400, "validation_failed");

      const emptyNdjson = await server.call("POST", "/v1/events", { rawBody: "\n\n", contentType: "application/x-ndjson", key: writerKey });
      expectProblem(emptyNdjson, 400, "validation_failed");

      const tooMany = await server.call("POST", "/v1/events", { body: Array.from({ length: 5001 }, valid), key: writerKey });
      expectProblem(tooMany, 400, "validation_failed");
      expect(JSON.stringify(tooMany.body)).toContain("5000");
      expect(JSON.stringify(tooMany.body)).toContain("5001");

      const text = await server.call("POST", "/v1/events", { rawBody: JSON.stringify([valid()]), contentType: "text/plain", key: writerKey });
      expectProblem(text, 415, "unsupported_media_type");

      expect(await listAll(server, `accountId=${acct}`)).toEqual([]);

      // Exactly 5000 is still one request.
      const max = await server.call("POST", "/v1/events", { body: Array.from({ length: 5000 }, valid), key: writerKey });
      expect(max.status).toBe(202);
      expect(max.body).toEqual({ accepted: 5000, duplicates: 0, rejected: [] });
      expect(await listAll(server, `accountId=${acct}`)).toHaveLength(5000);
    });
  });

  describe("a server with a 2 KB body limit", () => {
    let small: TestServer;
    beforeAll(async () => {
      small = await startTestServer(kind, { config: { bodyLimitBytes: 2048 } });
    });
    afterAll(async () => {
      await small.stop();
    });

    it("answers 413 to a larger body, JSON or NDJSON, and stores nothing of it", async () => {
      const events = Array.from({ length: 20 }, () => usageEvent({ accountId: "acct_big" }));
      const json = JSON.stringify(events);
      expect(Buffer.byteLength(json)).toBeGreaterThan(2048);
      const big = await small.call("POST", "/v1/events", { rawBody: json });
      expectProblem(big, 413, "body_too_large");
      expect(big.body.detail).toContain("2048");

      const ndjson = await small.call("POST", "/v1/events", { rawBody: events.map((e) => JSON.stringify(e)).join("\n"), contentType: "application/x-ndjson" });
      expectProblem(ndjson, 413, "body_too_large");

      expect((await small.call("GET", "/v1/events?accountId=acct_big")).body.items).toEqual([]);

      const fits = await small.call("POST", "/v1/events", { body: events.slice(0, 2) });
      expect(fits.status).toBe(202);
      expect(fits.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    });

    it("takes gzip, deflate and brotli bodies, counts its limit on the inflated bytes, and says which encodings it takes", async () => {
      const post = (body: Buffer, encoding: string, contentType = "application/x-ndjson") =>
        fetch(`${small.url}/v1/events`, { method: "POST", headers: { authorization: `Bearer ${small.adminKey}`, "content-type": contentType, "content-encoding": encoding }, body });
      const events = Array.from({ length: 3 }, () => usageEvent({ accountId: "acct_gzip" }));
      const gz = await post(gzipSync(events.map((e) => JSON.stringify(e)).join("\n")), "gzip");
      expect(gz.status).toBe(202);
      expect(gz.headers.get("accept-encoding")).toBe("gzip, deflate, br");
      expect(await gz.json()).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
      const more = [usageEvent({ accountId: "acct_gzip" })];
      const deflated = await post(deflateSync(JSON.stringify(more)), "deflate", "application/json");
      expect(await deflated.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
      expect(idsOf(await listAll(small, "accountId=acct_gzip")).sort()).toEqual(idsOf([...events, ...more] as { eventId: string }[]).sort());

      // 100 KB of JSON that compresses to a few hundred bytes: the 2 KB limit counts the inflated body.
      const bomb = gzipSync(JSON.stringify(Array.from({ length: 10 }, () => usageEvent({ accountId: "acct_gzip_bomb", model: "m".repeat(10_000) }))));
      expect(bomb.length).toBeLessThan(2048);
      const refused = await post(bomb, "gzip", "application/json");
      expect(refused.status).toBe(413);
      expect(((await refused.json()) as { code: string }).code).toBe("body_too_large");
      expect((await small.call("GET", "/v1/events?accountId=acct_gzip_bomb")).body.items).toEqual([]);

      const brotli = await post(brotliCompressSync(JSON.stringify([usageEvent({ accountId: "acct_gzip" })])), "br", "application/json");
      expect(await brotli.json()).toMatchObject({ accepted: 1 });
      // A body that does not inflate is the client's fault (400); an encoding it does not know, 415.
      const corrupt = await post(Buffer.from("not gzip at all"), "gzip", "application/json");
      expect(corrupt.status).toBe(400);
      expect(((await corrupt.json()) as { code: string }).code).toBe("malformed_body");
      const lzw = await post(Buffer.from("[]"), "compress", "application/json");
      expect(lzw.status).toBe(415);
      expect(lzw.headers.get("accept-encoding")).toBe("gzip, deflate, br");
    });
  });

  describe("GET /v1/events", () => {
    // Newest first: the two events at 10:20:00.123Z (one sent with a +01:00 offset) tie on
    // occurredAt and fall on both sides of the first page boundary.
    const times = [
      "2026-11-22T11:00:00Z",
      "2026-11-22T10:30:00Z",
      "2026-11-22T10:20:00.123Z",
      "2026-11-22T11:20:00.123+01:00",
      "2026-11-22T10:10:00Z",
      "2026-11-22T10:05:00Z",
      "2026-11-22T10:00:00Z",
    ];
    const paged = times.map((occurredAt) => usageEvent({ accountId: "acct_page", occurredAt }));
    const other = ["2026-11-22T10:15:00Z", "2026-11-22T10:40:00Z"].map((occurredAt) => usageEvent({ accountId: "acct_page_other", occurredAt }));
    const utc = (e: Record<string, unknown>) => new Date(e.occurredAt as string).toISOString();

    beforeAll(async () => {
      // Sent out of order, in two batches.
      expect((await server.call("POST", "/v1/events", { body: [paged[3], paged[0], other[1], paged[5]], key: writerKey })).body.accepted).toBe(4);
      expect((await server.call("POST", "/v1/events", { body: [paged[6], paged[2], other[0], paged[4], paged[1]], key: writerKey })).body.accepted).toBe(5);
    });

    it("pages through an account's events newest first with the cursor, each event once", async () => {
      const seen: any[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: Res = await server.call("GET", `/v1/events?accountId=acct_page&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { key: readerKey });
        expect(res.status).toBe(200);
        sizes.push(res.body.items.length);
        seen.push(...res.body.items);
        cursor = res.body.nextCursor;
        if (cursor !== null) expect(typeof cursor).toBe("string");
        pages++;
      } while (cursor && pages < 10);
      expect(sizes).toEqual([3, 3, 1]);
      expect(cursor).toBeNull();
      expect(seen.map((e) => e.occurredAt)).toEqual(paged.map(utc));
      expect(new Set(idsOf(seen)).size).toBe(7);
      expect(new Set(idsOf(seen))).toEqual(new Set(idsOf(paged as { eventId: string }[])));
      expect(seen.every((e) => e.accountId === "acct_page")).toBe(true);

      // The default page holds them all, and nothing after.
      const whole = await server.call("GET", "/v1/events?accountId=acct_page", { key: readerKey });
      expect(whole.body.items).toHaveLength(7);
      expect(whole.body.nextCursor).toBeNull();
    });

    it("filters by a half-open [from, to) window given with any zone, with or without an account", async () => {
      // from 11:10+01:00 is 10:10Z, included; to 10:30Z is excluded.
      const q = `from=${encodeURIComponent("2026-11-22T11:10:00+01:00")}&to=2026-11-22T10:30:00Z`;
      const own = await server.call("GET", `/v1/events?accountId=acct_page&${q}`, { key: readerKey });
      expect(own.status).toBe(200);
      expect(own.body.items.map((e: any) => e.occurredAt)).toEqual(["2026-11-22T10:20:00.123Z", "2026-11-22T10:20:00.123Z", "2026-11-22T10:10:00.000Z"]);
      expect(own.body.nextCursor).toBeNull();

      const all = await server.call("GET", `/v1/events?${q}`, { key: readerKey });
      expect(all.body.items.map((e: any) => `${e.accountId}@${e.occurredAt}`)).toEqual([
        "acct_page@2026-11-22T10:20:00.123Z",
        "acct_page@2026-11-22T10:20:00.123Z",
        "acct_page_other@2026-11-22T10:15:00.000Z",
        "acct_page@2026-11-22T10:10:00.000Z",
      ]);

      // The filters hold across pages too.
      const p1 = await server.call("GET", `/v1/events?${q}&limit=3`, { key: readerKey });
      expect(p1.body.items).toHaveLength(3);
      const p2 = await server.call("GET", `/v1/events?${q}&limit=3&cursor=${encodeURIComponent(p1.body.nextCursor)}`, { key: readerKey });
      expect(p2.body.items.map((e: any) => e.occurredAt)).toEqual(["2026-11-22T10:10:00.000Z"]);
      expect(p2.body.nextCursor).toBeNull();

      const none = await server.call("GET", "/v1/events?accountId=nobody", { key: readerKey });
      expect(none.body).toEqual({ items: [], nextCursor: null });
    });

    it("answers 400 naming each bad query parameter", async () => {
      const forged = (parts: string[]) => Buffer.from(JSON.stringify(parts)).toString("base64url");
      const bad = await server.call("GET", "/v1/events?limit=0&from=notadate&bogus=1", { key: readerKey });
      expectProblem(bad, 400, "validation_failed");
      const paths = bad.body.errors.map((e: { path: string }) => e.path).sort();
      expect(paths).toEqual(["query", "query.from", "query.limit"]);
      expect(bad.body.errors.find((e: { path: string }) => e.path === "query").message).toContain("bogus");

      for (const [query, path] of [
        ["limit=501", "query.limit"],
        ["limit=abc", "query.limit"],
        ["to=2026-11-22T10:00:00", "query.to"],
        ["accountId=", "query.accountId"],
        ["cursor=garbage", "query.cursor"],
        // Cursors this list never gave out, and values the database cannot compare with.
        [`cursor=${forged(["not-a-date", "1"])}`, "query.cursor"],
        [`cursor=${forged(["2026-11-22T10:00:00.000Z", "1.5"])}`, "query.cursor"],
        [`cursor=${forged(["0000-01-01T00:00:00.000Z", "1"])}`, "query.cursor"],
        ["accountId=acct%00page", "query.accountId"],
        ["from=0000-01-01T00:00:00Z", "query.from"],
      ] as const) {
        const res = await server.call("GET", `/v1/events?${query}`, { key: readerKey });
        expectProblem(res, 400, "validation_failed");
        expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([path]);
      }
    });
  });
});
