// Appeals over HTTP on every test database: filed by the portal on a holder's behalf, reviewed and
// decided by an analyst who did not enforce (four eyes), reversal lifting only its own case's
// enforcements (other cases keep theirs), the statements each decision issues, the deadline and the
// overdue count, and everything on the case's timeline and in the audit log.
import { type TestServer, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { usageEvent } from "./support/factories";

const dayMs = 86_400_000;

describe.each(testTargets())("appeals on %s", (kind) => {
  let server: TestServer;
  let enforcer: string;
  let reviewer: string;
  let portal: string;
  const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
  const synth = (accountId: string, extra: Record<string, unknown> = {}) => usageEvent({ accountId, outputTokens: 5000, signals: { syntheticDataRequest: true }, occurredAt: ago(5), ...extra });
  const caseOf = async (accountId: string, ruleId: string) => (await server.call("GET", `/v1/cases?accountId=${accountId}&ruleId=${ruleId}`)).body.items[0].id as string;
  /** Confirms and enforces a case as the enforcing analyst. */
  const enforce = async (caseId: string, action: string, includeLinked?: unknown) => {
    await server.call("POST", `/v1/cases/${caseId}/transitions`, { body: { to: "confirmed" }, key: enforcer });
    const r = await server.call("POST", `/v1/cases/${caseId}/enforce`, { body: { action, note: "internal", ...(includeLinked ? { includeLinked } : {}) }, key: enforcer });
    expect(r.status).toBe(200);
  };
  const statementsOf = async (accountId: string) => (await server.call("GET", `/v1/accounts/${accountId}/statements`, { key: portal })).body.items as { id: string; kind: string; caseId: string; accountStatus: string; text: string }[];
  const appeal = (statementId: string, extra: Record<string, unknown> = {}) =>
    server.call("POST", "/v1/appeals", { body: { statementId, explanation: "We run an evaluation harness, not a training pipeline.", ...extra }, key: portal });
  const moveAppeal = (id: string, body: Record<string, unknown>, key = reviewer) => server.call("POST", `/v1/appeals/${id}/transitions`, { body, key });

  beforeAll(async () => {
    server = await startTestServer(kind);
    const key = async (name: string, scopes: string[]) => (await server.call("POST", "/v1/keys", { body: { name, scopes } })).body.key as string;
    enforcer = await key("analyst who enforces", ["cases:read", "cases:write"]);
    reviewer = await key("analyst who reviews", ["cases:read", "cases:write"]);
    portal = await key("customer portal", ["statements:read", "appeals:write"]);
    await server.call("POST", "/v1/rules", {
      body: { id: "test.ring-model", name: "Ring model", clause: { ref: "9", text: "No ring models." }, severity: "low", scope: "event", window: "1h", conditions: { all: [{ fact: "event", path: "$.model", operator: "equal", value: "ring-model" }] } },
    });
  });
  afterAll(async () => {
    await server.stop();
  });

  it("reverses an appeal: lifts this case's enforcements only, dismisses the case, and tells both holders; never by who enforced", async () => {
    // Case 1 suspends acct_ap1 and, linked by payment method, acct_ap2; case 2 restricts acct_ap1 too.
    await server.call("POST", "/v1/events", {
      body: [synth("acct_ap1", { paymentFingerprint: "pm_ap" }), usageEvent({ accountId: "acct_ap2", paymentFingerprint: "pm_ap", occurredAt: ago(4) }), usageEvent({ accountId: "acct_ap1", model: "ring-model", occurredAt: ago(3) })],
    });
    await server.drain();
    const case1 = await caseOf("acct_ap1", "extraction.synthetic-data-request");
    const case2 = await caseOf("acct_ap1", "test.ring-model");
    await enforce(case1, "suspend", { by: "paymentFingerprint" });
    await enforce(case2, "restrict");
    const statement = (await statementsOf("acct_ap1")).find((s) => s.caseId === case1 && s.kind === "enforcement")!;

    const filed = await appeal(statement.id, { attachments: [{ name: "harness description", ref: "https://portal.example/files/123" }] });
    expect(filed.status).toBe(201);
    expect(filed.body).toMatchObject({ statementId: statement.id, accountId: "acct_ap1", caseId: case1, status: "submitted", overdue: false, reviewer: null, decidedBy: null });
    expect(Date.parse(filed.body.deadlineAt) - Date.parse(filed.body.submittedAt)).toBe(14 * dayMs);
    const id: string = filed.body.id;
    // The portal can follow it; a second appeal of the same statement is refused with the first's id.
    expect((await server.call("GET", `/v1/appeals/${id}`, { key: portal })).body.status).toBe("submitted");
    expect((await appeal(statement.id)).body).toMatchObject({ status: 409, code: "conflict", appealId: id });

    // Four eyes: who enforced can neither review nor decide.
    for (const to of ["under_review", "reversed"]) {
      const refused = await moveAppeal(id, { to, note: "I was right" }, enforcer);
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ code: "four_eyes", enforcedBy: expect.stringMatching(/^key:/) });
      expect(refused.body.detail).toMatch(/another analyst must review and decide it/);
    }
    expect((await moveAppeal(id, { to: "under_review" })).body.appeal).toMatchObject({ status: "under_review", reviewer: expect.stringMatching(/^key:/) });
    expect((await moveAppeal(id, { to: "reversed" })).body.errors).toEqual([{ path: "body.note", message: "a decision (reversed) needs a note saying why" }]);

    const reversed = await moveAppeal(id, { to: "reversed", note: "the harness is documented; not distillation" });
    expect(reversed.status).toBe(200);
    expect(reversed.body.appeal).toMatchObject({ status: "reversed", caseOutcome: "dismissed", decisionNote: "the harness is documented; not distillation", decidedAt: expect.any(String) });
    expect(reversed.body.statementIds).toHaveLength(2);
    expect((await moveAppeal(id, { to: "upheld", note: "changed my mind" })).body).toMatchObject({ code: "transition_not_allowed", from: "reversed" });

    // Case 1 is dismissed and its enforcements lifted; case 2 still restricts acct_ap1.
    expect((await server.call("GET", `/v1/cases/${case1}`)).body.status).toBe("dismissed");
    expect((await server.call("GET", "/v1/accounts/acct_ap1/enforcement")).body).toMatchObject({ status: "restricted", caseIds: [case2] });
    expect((await server.call("GET", "/v1/accounts/acct_ap2/enforcement")).body).toMatchObject({ status: "active", caseIds: [] });
    const [lifted1] = await statementsOf("acct_ap1");
    expect(lifted1).toMatchObject({ kind: "lifting", caseId: case1, accountStatus: "restricted" });
    expect(lifted1!.text).toContain("We reviewed your appeal and reversed our decision.");
    const [lifted2] = await statementsOf("acct_ap2");
    expect(lifted2).toMatchObject({ kind: "lifting", caseId: case1, accountStatus: "active" });
    expect(lifted2!.text).toContain("The case that led to it is closed.");
    expect(reversed.body.statementIds.sort()).toEqual([lifted1!.id, lifted2!.id].sort());

    // On the case's timeline and in the audit log.
    const timeline = (await server.call("GET", `/v1/cases/${case1}`)).body.timeline.filter((t: { kind: string }) => t.kind === "appeal");
    expect(timeline.map((t: { from: string | null; to: string | null }) => [t.from, t.to])).toEqual([[null, null], [null, null], ["enforced", "dismissed"]]);
    const audit = await server.running.services.db.prisma.auditLogEntry.findMany({ where: { OR: [{ targetId: id }, { targetId: case1, action: "case.appeal_reversed" }] }, orderBy: { id: "asc" } });
    expect(audit.map((a) => a.action)).toEqual(["appeal.submit", "appeal.review", "case.appeal_reversed", "appeal.decide"]);
  });

  it("upholds an appeal with a statement, the measure standing; refuses appeals of a lifting, a lifted measure or after the period", async () => {
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_ap3", model: "ring-model", occurredAt: ago(2) })] });
    await server.drain();
    const c = await caseOf("acct_ap3", "test.ring-model");
    await enforce(c, "suspend");
    const [s] = await statementsOf("acct_ap3");
    // After the appeal period (180 days by default): refused.
    const late = server.running.services.appeals.submit({ statementId: s!.id, explanation: "late", attachments: [] }, { actor: "key:portal" }, new Date(Date.now() + 181 * dayMs));
    await expect(late).rejects.toThrow(/appeal period .* ended/);

    const id: string = (await appeal(s!.id)).body.id;
    const upheld = await moveAppeal(id, { to: "upheld", note: "the traffic matches the operation" });
    expect(upheld.body.appeal).toMatchObject({ status: "upheld", caseOutcome: null });
    const [latest] = await statementsOf("acct_ap3");
    expect(latest).toMatchObject({ id: upheld.body.statementIds[0], kind: "appeal_upheld", accountStatus: "suspended" });
    expect(latest!.text).toContain("the decision stands");
    expect((await server.call("GET", "/v1/accounts/acct_ap3/enforcement")).body.status).toBe("suspended");
    expect((await appeal(latest!.id)).body.detail).toMatch(/only an enforcement can be appealed/);

    // A measure lifted since (the case resolved): nothing left to appeal.
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_ap4", model: "ring-model", occurredAt: ago(2) })] });
    await server.drain();
    const c4 = await caseOf("acct_ap4", "test.ring-model");
    await enforce(c4, "restrict");
    const enforcement4 = (await statementsOf("acct_ap4"))[0]!;
    await server.call("POST", `/v1/cases/${c4}/transitions`, { body: { to: "resolved", note: "done" }, key: enforcer });
    expect((await appeal(enforcement4.id)).body.detail).toMatch(/was lifted at .*nothing to appeal/);
  });

  it("reverses a linked account's appeal for that account only, the case standing", async () => {
    await server.call("POST", "/v1/events", { body: [synth("acct_ap5", { paymentFingerprint: "pm_ap5" }), usageEvent({ accountId: "acct_ap6", paymentFingerprint: "pm_ap5", occurredAt: ago(4) })] });
    await server.drain();
    const c = await caseOf("acct_ap5", "extraction.synthetic-data-request");
    await enforce(c, "suspend", { by: "paymentFingerprint" });
    const [linked] = await statementsOf("acct_ap6");
    const id: string = (await appeal(linked!.id)).body.id;
    const reversed = await moveAppeal(id, { to: "reversed", note: "a shared family card, not the ring" });
    expect(reversed.body.appeal.caseOutcome).toBe("unchanged");
    expect(reversed.body.statementIds).toHaveLength(1);
    expect((await server.call("GET", "/v1/accounts/acct_ap6/enforcement")).body.status).toBe("active");
    expect((await server.call("GET", "/v1/accounts/acct_ap5/enforcement")).body.status).toBe("suspended");
    expect((await server.call("GET", `/v1/cases/${c}`)).body.status).toBe("enforced");
  });

  it("counts open and overdue appeals, lists the queue by deadline, and validates input naming the field", async () => {
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_ap7", model: "ring-model", occurredAt: ago(2) })] });
    await server.drain();
    await enforce(await caseOf("acct_ap7", "test.ring-model"), "restrict");
    const id: string = (await appeal((await statementsOf("acct_ap7"))[0]!.id)).body.id;
    await server.running.services.db.prisma.appeal.update({ where: { id }, data: { deadlineAt: new Date(Date.now() - 60_000) } });

    const counts = (await server.call("GET", "/v1/appeals/counts")).body;
    expect(counts).toEqual({ counts: { submitted: 1, under_review: 0, upheld: 1, reversed: 2 }, open: 1, overdue: 1 });
    const overdue = (await server.call("GET", "/v1/appeals?overdue=true")).body.items;
    expect(overdue.map((a: { id: string; overdue: boolean }) => [a.id, a.overdue])).toEqual([[id, true]]);
    const all = (await server.call("GET", "/v1/appeals?limit=2")).body;
    expect(all.items[0].id).toBe(id); // the nearest deadline first
    const rest = (await server.call("GET", `/v1/appeals?limit=10&cursor=${all.nextCursor}`)).body;
    expect(all.items.length + rest.items.length).toBe(4);
    expect((await server.call("GET", "/v1/appeals?status=reversed")).body.items).toHaveLength(2);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^clauseguard_appeals_overdue 1$/m);
    expect(metrics).toMatch(/^clauseguard_appeals\{status="reversed"\} 2$/m);
    expect(metrics).toMatch(/^clauseguard_statements_issued\{kind="appeal_upheld"\} 1$/m);

    const bad = await server.call("POST", "/v1/appeals", { body: { statementId: "sor_nope", explanation: "x".repeat(5001), attachments: [{ name: "a" }], extra: 1 }, key: portal });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(["body", "body.attachments[0].ref", "body.explanation"]);
    expect((await appeal("sor_nope")).body.errors).toEqual([{ path: "body.statementId", message: "statement 'sor_nope' does not exist" }]);
    expect((await server.call("GET", "/v1/appeals?overdue=maybe")).body.errors).toEqual([expect.objectContaining({ path: "query.overdue" })]);
    expect((await moveAppeal(id, { to: "under_review", caseOutcome: "open" })).body.errors).toEqual([expect.objectContaining({ path: "body.caseOutcome" })]);
    expect((await moveAppeal("apl_nope", { to: "under_review" })).status).toBe(404);
    // The portal files and follows; it cannot decide or read the queue.
    expect((await moveAppeal(id, { to: "under_review" }, portal)).status).toBe(403);
    expect((await server.call("GET", "/v1/appeals", { key: portal })).status).toBe(403);
  });

  it("reverses with the case reopened when the decision says so: every enforcement of it lifted, the case back in the queue", async () => {
    await server.call("POST", "/v1/events", { body: [synth("acct_ap8", { paymentFingerprint: "pm_ap8" }), usageEvent({ accountId: "acct_ap9", paymentFingerprint: "pm_ap8", occurredAt: ago(4) })] });
    await server.drain();
    const c = await caseOf("acct_ap8", "extraction.synthetic-data-request");
    await enforce(c, "suspend", { by: "paymentFingerprint" });
    const [own] = await statementsOf("acct_ap8");
    const id: string = (await appeal(own!.id)).body.id;
    const reversed = await moveAppeal(id, { to: "reversed", note: "needs a second look", caseOutcome: "open" });
    expect(reversed.body.appeal).toMatchObject({ status: "reversed", caseOutcome: "open" });
    expect(reversed.body.statementIds).toHaveLength(2);
    expect((await server.call("GET", `/v1/cases/${c}`)).body).toMatchObject({ status: "open", dismissedAt: null });
    for (const a of ["acct_ap8", "acct_ap9"]) expect((await server.call("GET", `/v1/accounts/${a}/enforcement`)).body.status).toBe("active");
  });
});
