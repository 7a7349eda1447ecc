// Rate limits over HTTP: per API key and per client address, with 429 problem+json and
// Retry-After; a wrong secret counts apart from the real key; health stays open.
import { type TestServer, startTestServer } from "./support/test-server";

describe("rate limits", () => {
  let server: TestServer;
  afterEach(async () => {
    await server.stop();
  });

  it("answers 429 with Retry-After once a key has used its minute, and counts each key apart", async () => {
    server = await startTestServer("pglite", { config: { rateLimits: { perKeyPerMinute: 5, perAddressPerMinute: 0 } } });
    const other = (await server.call("POST", "/v1/keys", { body: { name: "other", scopes: ["cases:read"] } })).body.key as string;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await server.call("GET", "/v1/cases")).status);
    // The key creation above was the admin key's first request of the minute.
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const limited = await server.call("GET", "/v1/cases");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(limited.body).toMatchObject({ status: 429, code: "rate_limited" });
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);

    expect((await server.call("GET", "/v1/cases", { key: other })).status).toBe(200);
    // Someone guessing with the admin key's id and a wrong secret neither gets in nor uses its allowance.
    const forged = server.adminKey.replace(/_[^_]+$/, "_" + "x".repeat(43));
    for (let i = 0; i < 6; i++) expect((await server.call("GET", "/v1/cases", { key: forged })).status).toBe(i < 5 ? 401 : 429);
    expect((await server.call("GET", "/healthz", { key: null })).status).toBe(200);
  });

  it("limits a client address across keys", async () => {
    server = await startTestServer("pglite", { config: { rateLimits: { perKeyPerMinute: 0, perAddressPerMinute: 3 } } });
    const statuses: number[] = [];
    for (const key of [undefined, null, undefined, null]) statuses.push((await server.call("GET", "/v1/cases", { key })).status);
    expect(statuses).toEqual([200, 401, 200, 429]);
    for (let i = 0; i < 5; i++) expect((await server.call("GET", "/readyz", { key: null })).status).toBe(200);
  });
});
