// The case workflow over HTTP on every test database: allowed and refused moves, required notes,
// the dismissal cool-down, reopening, notes and assignment, enforcement of an account and its
// linked accounts, and lifting on resolve only when nothing else holds the account.
import { type TestServer, startTestServer, testConfig } from "./support/test-server";
import { createLogger } from "../src/shared/logger";
import { startServer } from "../src/server";
import { testTargets } from "./support/test-database";
import { usageEvent } from "./support/factories";

const synth = (accountId: string, extra: Record<string, unknown> = {}) =>
  usageEvent({ accountId, outputTokens: 5000, signals: { syntheticDataRequest: true }, occurredAt: new Date(Date.now() - 60_000).toISOString(), ...extra });

describe.each(testTargets())("case workflow on %s", (kind) => {
  let server: TestServer;
  const caseFor = async (accountId: string, ruleId = "extraction.synthetic-data-request") =>
    (await server.call("GET", `/v1/cases?accountId=${accountId}&ruleId=${ruleId}`)).body.items[0];
  const move = (id: string, to: string, note?: string) => server.call("POST", `/v1/cases/${id}/transitions`, { body: note ? { to, note } : { to } });

  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server.stop();
  });

  it("allows only the table's moves, needs a note to dismiss, and keeps a dismissed case through its cool-down", async () => {
    await server.call("POST", "/v1/events", { body: [synth("acct_w1")] });
    await server.drain();
    const c = await caseFor("acct_w1");
    expect((await move(c.id, "investigating")).body).toMatchObject({ from: "open", to: "investigating" });
    const back = await move(c.id, "open");
    expect(back.status).toBe(409);
    expect(back.body).toMatchObject({ code: "transition_not_allowed", from: "investigating", to: "open", allowed: ["confirmed", "dismissed"] });
    const noNote = await move(c.id, "dismissed");
    expect(noNote.status).toBe(400);
    expect(noNote.body.errors).toEqual([{ path: "body.note", message: "a move to dismissed needs a note saying why" }]);
    expect((await move(c.id, "dismissed", "benchmark traffic, agreed with the customer")).status).toBe(200);

    // A hit less than 7 days after the dismissal is counted on the case but does not reopen it.
    await server.call("POST", "/v1/events", { body: [synth("acct_w1")] });
    await server.drain();
    const after = await server.call("GET", `/v1/cases/${c.id}`);
    expect(after.body).toMatchObject({ status: "dismissed", hitCount: 2 });
    expect((await server.call("GET", "/v1/cases?accountId=acct_w1")).body.items).toHaveLength(1);

    expect((await move(c.id, "open")).body).toMatchObject({ from: "dismissed", to: "open" });
    const detail = await server.call("GET", `/v1/cases/${c.id}`);
    expect(detail.body.timeline.map((t: { kind: string; from: string | null; to: string | null }) => [t.kind, t.from, t.to])).toEqual([
      ["opened", null, "open"],
      ["transition", "open", "investigating"],
      ["transition", "investigating", "dismissed"],
      ["transition", "dismissed", "open"],
    ]);
    expect(detail.body.timeline[2]).toMatchObject({ note: "benchmark traffic, agreed with the customer", actor: expect.stringMatching(/^key:/) });
    expect((await move(c.id, "enforced", "x")).status).toBe(409);
    expect((await move("case_nope", "investigating")).status).toBe(404);
  });

  it("refuses to reopen a dismissed case while another is active for the account and rule", async () => {
    await server.call("POST", "/v1/events", { body: [synth("acct_w2")] });
    await server.drain();
    const first = await caseFor("acct_w2");
    await move(first.id, "dismissed", "false positive");
    // Past the cool-down, a new hit opens a new case.
    await server.running.services.db.prisma.violationCase.update({ where: { id: first.id }, data: { dismissedAt: new Date(Date.now() - 8 * 86_400_000) } });
    await server.call("POST", "/v1/events", { body: [synth("acct_w2")] });
    await server.drain();
    const cases = (await server.call("GET", "/v1/cases?accountId=acct_w2")).body.items;
    expect(cases.map((x: { status: string }) => x.status).sort()).toEqual(["dismissed", "open"]);
    const reopen = await move(first.id, "open");
    expect(reopen.status).toBe(409);
    expect(reopen.body.code).toBe("conflict");
  });

  it("takes notes and assignment, and lists by assignee", async () => {
    await server.call("POST", "/v1/events", { body: [synth("acct_w3")] });
    await server.drain();
    const c = await caseFor("acct_w3");
    expect((await server.call("POST", `/v1/cases/${c.id}/notes`, { body: { note: "looks scripted" } })).status).toBe(201);
    expect((await server.call("PATCH", `/v1/cases/${c.id}`, { body: { assignee: "dana" } })).body).toEqual({ caseId: c.id, assignee: "dana" });
    expect((await server.call("GET", "/v1/cases?assignee=dana")).body.items.map((x: { id: string }) => x.id)).toEqual([c.id]);
    expect((await server.call("PATCH", `/v1/cases/${c.id}`, { body: { assignee: null } })).body.assignee).toBeNull();
    const detail = await server.call("GET", `/v1/cases/${c.id}`);
    expect(detail.body.timeline.map((t: { kind: string }) => t.kind)).toEqual(["opened", "note", "assign", "assign"]);
    expect((await server.call("PATCH", `/v1/cases/${c.id}`, { body: { assignee: "x", status: "open" } })).body.errors[0].path).toBe("body");
  });

  it("enforces an account and its linked accounts in one step, and lifts only what nothing else holds", async () => {
    const now = Date.now();
    const t = (m: number) => new Date(now - m * 60_000).toISOString();
    await server.call("POST", "/v1/events", {
      body: [
        synth("acct_e1", { paymentFingerprint: "pm_ring", occurredAt: t(5) }),
        usageEvent({ accountId: "acct_e2", paymentFingerprint: "pm_ring", occurredAt: t(4) }),
        usageEvent({ accountId: "acct_e3", paymentFingerprint: "pm_other", occurredAt: t(4) }),
      ],
    });
    await server.drain();
    const c = await caseFor("acct_e1");
    const early = await server.call("POST", `/v1/cases/${c.id}/enforce`, { body: { action: "suspend", note: "distillation ring" } });
    expect(early.status).toBe(409);
    await move(c.id, "confirmed");
    const enforced = await server.call("POST", `/v1/cases/${c.id}/enforce`, {
      body: { action: "suspend", note: "distillation ring", includeLinked: { by: "paymentFingerprint" } },
    });
    expect(enforced.status).toBe(200);
    expect(enforced.body.enforced.map((e: { accountId: string; status: string; linked: boolean }) => [e.accountId, e.status, e.linked])).toEqual([
      ["acct_e1", "suspended", false],
      ["acct_e2", "suspended", true],
    ]);
    for (const a of ["acct_e1", "acct_e2"]) {
      expect((await server.call("GET", `/v1/accounts/${a}/enforcement`)).body).toMatchObject({ status: "suspended", caseIds: [c.id], since: expect.any(String) });
    }
    expect((await server.call("GET", "/v1/accounts/acct_e3/enforcement")).body.status).toBe("active");

    // A second case restricts acct_e1 too; resolving the first leaves it restricted, and frees acct_e2.
    await server.call("POST", "/v1/rules", {
      body: { id: "test.any-request", name: "Any", clause: { ref: "9", text: "t" }, severity: "low", scope: "event", window: "1h", conditions: { all: [{ fact: "event", path: "$.model", operator: "equal", value: "ring-model" }] } },
    });
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_e1", model: "ring-model", occurredAt: t(1) })] });
    await server.drain();
    const second = await caseFor("acct_e1", "test.any-request");
    await move(second.id, "confirmed");
    await server.call("POST", `/v1/cases/${second.id}/enforce`, { body: { action: "restrict", note: "same operator" } });
    expect((await server.call("GET", "/v1/accounts/acct_e1/enforcement")).body).toMatchObject({ status: "suspended", caseIds: [c.id, second.id] });

    expect((await move(c.id, "resolved")).status).toBe(400);
    const resolved = await move(c.id, "resolved", "appeal accepted");
    expect(resolved.body.accounts).toEqual([
      expect.objectContaining({ accountId: "acct_e1", status: "restricted" }),
      expect.objectContaining({ accountId: "acct_e2", status: "active" }),
    ]);
    expect((await server.call("GET", "/v1/accounts/acct_e1/enforcement")).body).toMatchObject({ status: "restricted", caseIds: [second.id] });
    expect((await server.call("GET", "/v1/accounts/acct_e2/enforcement")).body).toMatchObject({ status: "active", caseIds: [] });
    // The account keeps its enforcement history, lifted or not.
    const history = (await server.call("GET", "/v1/accounts/acct_e1")).body.enforcements;
    expect(history.map((e: { caseId: string; action: string; liftedAt: string | null }) => [e.caseId, e.action, e.liftedAt === null])).toEqual([
      [second.id, "restrict", true],
      [c.id, "suspend", false],
    ]);

    const audit = await server.running.services.db.prisma.auditLogEntry.findMany({ where: { action: { in: ["account.enforce", "case.enforce", "case.transition"] }, targetId: { in: ["acct_e1", "acct_e2", c.id] } }, orderBy: { id: "asc" } });
    expect(audit.map((a) => `${a.action}:${a.targetId}`)).toEqual([
      `case.transition:${c.id}`,
      "account.enforce:acct_e1",
      "account.enforce:acct_e2",
      `case.enforce:${c.id}`,
      "account.enforce:acct_e1",
      `case.transition:${c.id}`,
    ]);
  });

  it("needs cases:write to change a case", async () => {
    const reader = (await server.call("POST", "/v1/keys", { body: { name: "reader", scopes: ["cases:read"] } })).body.key;
    const c = await caseFor("acct_w3");
    expect((await server.call("POST", `/v1/cases/${c.id}/transitions`, { body: { to: "investigating" }, key: reader })).status).toBe(403);
    expect((await server.call("POST", `/v1/cases/${c.id}/notes`, { body: { note: "x" }, key: reader })).status).toBe(403);
  });
  it("answers an enforcement at once in the process that made it, and within about a second in another process on the same database", async () => {
    // A second API process on the same database, with its own in-memory enforcement snapshot.
    const config = testConfig({ adminKey: server.adminKey });
    const other = await startServer(config, createLogger("silent", false), { api: true, worker: false }, server.running.services.db);
    try {
      const ask = async (url: string) =>
        (await (await fetch(`${url}/v1/accounts/acct_x1/enforcement`, { headers: { authorization: `Bearer ${server.adminKey}` } })).json()) as { status: string };
      const within = async (url: string, status: string) => {
        const t0 = Date.now();
        while ((await ask(url)).status !== status && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
        return Date.now() - t0;
      };
      await server.call("POST", "/v1/events", { body: [synth("acct_x1")] });
      await server.drain();
      const c = await caseFor("acct_x1");
      await move(c.id, "confirmed");
      expect((await server.call("POST", `/v1/cases/${c.id}/enforce`, { body: { action: "suspend", note: "seen from two processes" } })).status).toBe(200);
      expect((await ask(server.url)).status).toBe("suspended");
      expect(await within(other.url!, "suspended")).toBeLessThan(2500);

      expect((await move(c.id, "resolved", "lifted")).status).toBe(200);
      expect((await ask(server.url)).status).toBe("active");
      expect(await within(other.url!, "active")).toBeLessThan(2500);
    } finally {
      await other.stop();
    }
  });
});
