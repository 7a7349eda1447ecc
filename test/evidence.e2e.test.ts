// Signed evidence bundles on every test database: what a bundle holds, its signature against the
// served public key, each hit re-evaluated on the bundled fact values, tampering caught (a fact
// value, the signature, an event), events removed by retention still committed to by digest; and
// `clauseguard evidence verify` as an operator runs it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { type TestServer, startTestServer, testSigningKeyFile } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { usageEvent } from "./support/factories";
import { run } from "./support/cli";
import { ruleCompiler } from "../src/engine/rule-compiler";
import { verifyBundle } from "../src/features/evidence/evidence-verify";
import { keyIdOf, loadSigningKeys, publicKeyFromJwk, signDocument } from "../src/features/evidence/signing-keys";
import { createEvidenceService, linkedAccountHash } from "../src/features/evidence/evidence-bundle";
import type { EvidenceBundle } from "../src/features/evidence/evidence-views";
import { deleteExpiredEvents } from "../src/features/events/event-retention";

const compile = ruleCompiler("compiled");

describe.each(testTargets())("evidence bundles on %s", (kind) => {
  let server: TestServer;
  let caseId: string;
  let bundle: EvidenceBundle;
  const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
  const publicKey = async () => publicKeyFromJwk((await server.call("GET", "/v1/signing-keys", { key: null })).body.keys[0]);

  beforeAll(async () => {
    server = await startTestServer(kind);
    await server.call("POST", "/v1/rules", {
      body: {
        id: "test.evidence-volume",
        name: "Volume with reasoning traces",
        clause: { ref: "Terms 2(c)", text: "No distillation." },
        severity: "high",
        scope: "account",
        window: "24h",
        conditions: {
          all: [
            { fact: "requestCount", operator: "greaterThanInclusive", value: 4 },
            { fact: "signalRate", params: { signal: "reasoningTraceRequest", window: "7d" }, operator: "greaterThanInclusive", value: 0.5 },
            { fact: "event", path: "$.model", operator: "equal", value: "frontier-large" },
          ],
        },
      },
    });
    const events = Array.from({ length: 5 }, (_, i) => usageEvent({ accountId: "acct_ev1", occurredAt: ago(10 - i), paymentFingerprint: "pm_ev", signals: { reasoningTraceRequest: true } }));
    await server.call("POST", "/v1/events", { body: [...events, usageEvent({ accountId: "acct_ev2", paymentFingerprint: "pm_ev", occurredAt: ago(20) })] });
    await server.drain();
    caseId = (await server.call("GET", "/v1/cases?accountId=acct_ev1&ruleId=test.evidence-volume")).body.items[0].id;
    bundle = (await server.call("GET", `/v1/cases/${caseId}/evidence-bundle`)).body;
  });
  afterAll(async () => {
    await server.stop();
  });

  it("holds the case, the pinned rule version, every kept hit, the events and the linked accounts as keyed hashes", async () => {
    expect(bundle).toMatchObject({ format: "clauseguard.evidence-bundle/v1", case: { id: caseId, accountId: "acct_ev1", ruleId: "test.evidence-volume", ruleVersion: 1, clause: { ref: "Terms 2(c)" } } });
    const rule = (await server.call("GET", "/v1/rules/test.evidence-volume")).body;
    expect(bundle.ruleVersions).toEqual([{ version: 1, checksum: expect.any(String), document: rule.document }]);
    expect(bundle.hits.length).toBeGreaterThan(0);
    expect(bundle.hits.length).toBe(Math.min(20, bundle.case.hitCount));
    const named = new Set(bundle.hits.flatMap((h) => [h.triggerEventId, ...h.eventIds]));
    expect(bundle.events.map((e) => e.event.eventId).sort()).toEqual([...named].sort());
    expect(bundle.eventDigests).toEqual([]);
    // acct_ev2 shares the payment method: one keyed hash, never its id.
    const linked = (await server.call("GET", `/v1/cases/${caseId}`)).body.linkedAccounts as string[];
    expect(linked).toContain("acct_ev2");
    expect(bundle.linkedAccounts.hashes).toHaveLength(linked.length);
    expect(JSON.stringify(bundle.linkedAccounts)).not.toContain("acct_ev2");
    // The key's holder (the provider) can check an id against the bundle; a reader cannot.
    const keys_ = loadSigningKeys({ keyFile: testSigningKeyFile(), retiredFiles: [] })!;
    expect(bundle.linkedAccounts.hashes).toContain(linkedAccountHash(keys_.current, "acct_ev2"));
    const keys = (await server.call("GET", "/v1/signing-keys", { key: null })).body.keys;
    expect(bundle.signature).toMatchObject({ algorithm: "Ed25519", canonicalization: "RFC8785", keyId: keys[0].kid });
    expect(keys[0].kid).toBe(keyIdOf(await publicKey()));
  });

  it("verifies: the signature holds and every hit is reproduced condition by condition", async () => {
    const check = await verifyBundle(bundle, await publicKey(), compile);
    expect(check).toMatchObject({ signature: true, eventsTampered: [], ok: true });
    for (const hit of check.hits) {
      expect(hit.reproduced).toBe(true);
      // In the order the evaluator read them: the event first (fact priorities), then the window facts.
      expect(hit.conditions.map((c) => [c.path, c.fact, c.recorded, c.recomputed]).sort()).toEqual([
        ["all[0]", "requestCount", true, true],
        ["all[1]", "signalRate", true, true],
        ["all[2]", "event", true, true],
      ]);
    }
  });

  it("catches tampering: a fact value (even re-signed by someone else), the signature, an event", async () => {
    const tampered = structuredClone(bundle);
    tampered.hits[0]!.conditions.find((c) => c.fact === "requestCount")!.factValue = 2;
    expect((await verifyBundle(tampered, await publicKey(), compile)).signature).toBe(false);
    // Re-signed with another key, the signature holds for that key, but the outcome is not reproduced.
    const forger = generateKeyPairSync("ed25519");
    const forged = signDocument(tampered as unknown as Record<string, unknown>, { keyId: keyIdOf(forger.publicKey), privateKey: forger.privateKey, publicKey: forger.publicKey }) as unknown as EvidenceBundle;
    const check = await verifyBundle(forged, forger.publicKey, compile);
    expect(check.signature).toBe(true);
    expect(check.ok).toBe(false);
    expect(check.hits[0]).toMatchObject({ reproduced: false });
    expect(check.hits[0]!.conditions.find((c) => c.fact === "requestCount")).toMatchObject({ factValue: 2, recorded: true, recomputed: false });

    const badSignature = structuredClone(bundle);
    // A character in the middle (the last one carries unused bits), always changed.
    const v = badSignature.signature.value;
    badSignature.signature.value = `${v.slice(0, 10)}${v[10] === "A" ? "B" : "A"}${v.slice(11)}`;
    expect((await verifyBundle(badSignature, await publicKey(), compile)).ok).toBe(false);

    const badEvent = structuredClone(bundle);
    badEvent.events[0]!.event.outputTokens += 1;
    expect((await verifyBundle(badEvent, await publicKey(), compile)).eventsTampered).toEqual([badEvent.events[0]!.event.eventId]);
  });

  it("commits to events removed by retention through the digests kept when they were deleted", async () => {
    const before = new Map(bundle.events.map((e) => [e.event.eventId, e.sha256]));
    // A year on, with 91 days' retention: every event of the test goes.
    expect(await deleteExpiredEvents(server.running.services.db, 91, new Date(Date.now() + 365 * 86_400_000))).toBeGreaterThanOrEqual(before.size);
    const later: EvidenceBundle = (await server.call("GET", `/v1/cases/${caseId}/evidence-bundle`)).body;
    expect(later.events).toEqual([]);
    expect(later.unavailableEventIds).toEqual([]);
    expect(new Map(later.eventDigests.map((d) => [d.eventId, d.sha256]))).toEqual(before);
    // Still re-verifiable: the fact values are in the hits, not in the events.
    expect((await verifyBundle(later, await publicKey(), compile)).ok).toBe(true);
  });

  it("answers 404 for an unknown case, and 503 naming the setting where no key is configured", async () => {
    expect((await server.call("GET", "/v1/cases/case_nope/evidence-bundle")).status).toBe(404);
    const unsigned = createEvidenceService(server.running.services.db, undefined);
    await expect(unsigned.bundle(caseId)).rejects.toThrow(/CLAUSEGUARD_SIGNING_KEY_FILE/);
  });
});

describe("clauseguard evidence verify", () => {
  let server: TestServer;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-evidence-"));
  const file = (name: string, content: unknown) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
    return p;
  };
  const verify = async (args: string[]) => {
    const r = run(["evidence", "verify", ...args], {});
    return { code: await r.exited, out: r.stdout(), err: r.stderr() };
  };
  beforeAll(async () => {
    server = await startTestServer("pglite");
  });
  afterAll(async () => {
    await server.stop();
  });

  it("exits 0 on a sound bundle, 1 on a tampered one, 2 on a file that is not one", async () => {
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_cli_ev", outputTokens: 5000, signals: { syntheticDataRequest: true }, occurredAt: new Date(Date.now() - 60_000).toISOString() })] });
    await server.drain();
    const caseId = (await server.call("GET", "/v1/cases?accountId=acct_cli_ev")).body.items[0].id;
    const bundle: EvidenceBundle = (await server.call("GET", `/v1/cases/${caseId}/evidence-bundle`)).body;
    const keys = file("keys.json", (await server.call("GET", "/v1/signing-keys", { key: null })).body);

    const sound = await verify([file("bundle.json", bundle), "--public-key", keys]);
    expect({ code: sound.code, err: sound.err }).toEqual({ code: 0, err: "" });
    expect(sound.out).toContain(`signature: valid (key ${bundle.signature.keyId})`);
    expect(sound.out).toMatch(/all\[1\] {2}event = 5000 greaterThanInclusive 4000: recorded true, recomputed true/);
    expect(sound.out).toContain("verified: the signature holds and every recorded outcome is reproduced");
    // Fetched from the server when no key file is given.
    expect((await verify([file("bundle.json", bundle), "--url", server.url])).code).toBe(0);

    const tampered = structuredClone(bundle);
    tampered.hits[0]!.conditions.find((c) => c.jsonPath === "$.outputTokens")!.factValue = 10;
    const bad = await verify([file("tampered.json", tampered), "--public-key", keys]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("signature: INVALID");
    expect(bad.out).toMatch(/recorded true, recomputed false {2}<- differs/);
    expect(bad.out).toContain("NOT VERIFIED");

    const notBundle = await verify([file("other.json", { format: "something else" }), "--public-key", keys]);
    expect(notBundle.code).toBe(1);
    expect(notBundle.err).toMatch(/is not an evidence bundle:\n {2}format: /);
    expect((await verify([path.join(dir, "missing.json"), "--public-key", keys])).code).toBe(2);
    expect((await verify([file("broken.json", "{"), "--public-key", keys])).err).toMatch(/not valid JSON/);
  });

  it("makes a signing key with keygen, never over an existing file", async () => {
    const out = path.join(dir, "new-key.pem");
    const made = run(["evidence", "keygen", "--out", out], {});
    expect(await made.exited).toBe(0);
    const keys = loadSigningKeys({ keyFile: out, retiredFiles: [] })!;
    expect(made.stdout()).toContain(`wrote ${out} (key ${keys.current.keyId})`);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    const again = run(["evidence", "keygen", "--out", out], {});
    expect(await again.exited).toBe(2);
    expect(again.stderr()).toMatch(/already exists/);
  });
});
