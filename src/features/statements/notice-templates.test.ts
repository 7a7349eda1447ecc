import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { RuleFileError } from "../rules/rule-files";
import { builtInNotice, loadNotice, noticeTemplates, renderTemplate, validateNotice } from "./notice-templates";
import { formatMoment, formatWindow, statementFacts } from "./statement-service";
import type { ConditionExplanation } from "../../engine/evaluation";

describe("notice templates", () => {
  it("ships rules/notices/default.json as the built-in notice, so the example is the real thing", () => {
    const shipped = JSON.parse(fs.readFileSync(path.join(__dirname, "../../../rules/notices/default.json"), "utf8"));
    expect(shipped).toEqual(builtInNotice);
    expect(loadNotice(path.join(__dirname, "../../../rules")).version).toBe(noticeTemplates(builtInNotice).version);
  });

  it("refuses unknown names, partials, broken syntax and unknown facts, each with its path", () => {
    const v = validateNotice({
      ...builtInNotice,
      enforcement: "Hello {{customerName}}",
      lifting: "{{> footer}}",
      appealUpheld: "{{#facts}}unclosed",
      facts: { requestCount: "{{value}} in {{span}}", notAFact: "x" },
      extra: true,
    });
    expect(v.ok).toBe(false);
    if (v.ok) return;
    const paths = v.errors.map((e) => e.path).sort();
    expect(paths).toEqual(["", "appealUpheld", "enforcement", "facts.notAFact", "facts.requestCount", "lifting"]);
    expect(v.errors.find((e) => e.path === "enforcement")!.message).toMatch(/'\{\{customerName\}\}' is not a name/);
    expect(v.errors.find((e) => e.path === "facts.requestCount")!.message).toMatch(/'\{\{span\}\}'/);
  });

  it("loads a folder's notice, refusing a bad one with the file and path; the built-in one without a file", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-notice-"));
    expect(loadNotice(dir).version).toMatch(/^default@[0-9a-f]{12}$/);
    fs.mkdirSync(path.join(dir, "notices"));
    const file = path.join(dir, "notices", "default.json");
    fs.writeFileSync(file, JSON.stringify({ ...builtInNotice, lifting: "{{nope}}" }));
    expect(() => loadNotice(dir)).toThrow(RuleFileError);
    expect(() => loadNotice(dir)).toThrow(/default\.json at lifting: '\{\{nope\}\}'/);
    fs.writeFileSync(file, "{ not json");
    expect(() => loadNotice(dir)).toThrow(/not valid JSON/);
    fs.writeFileSync(file, JSON.stringify({ ...builtInNotice, lifting: "Lifted: {{accountId}}" }));
    const custom = loadNotice(dir);
    expect(custom.version).not.toBe(noticeTemplates(builtInNotice).version);
    expect(renderTemplate(custom.doc.lifting, { accountId: "acct_<1>" })).toBe("Lifted: acct_<1>");
  });
});

describe("statement facts", () => {
  const templates = noticeTemplates(builtInNotice);
  const cond = (c: Partial<ConditionExplanation>): ConditionExplanation => ({ path: "all[0]", fact: "requestCount", operator: "greaterThan", value: 1000, factValue: 2410, result: true, ...c });

  it("says each condition that held in plain words with its value and window", () => {
    const facts = statementFacts(
      [
        cond({ path: "all[0]" }),
        cond({ path: "all[1]", fact: "signalRate", params: { signal: "reasoningTraceRequest", window: "7d" }, operator: "greaterThanInclusive", value: 0.5, factValue: 0.8333 }),
        cond({ path: "all[2]", fact: "event", jsonPath: "$.signals.syntheticDataRequest", operator: "equal", value: true, factValue: true }),
        cond({ path: "all[3]", fact: "event", jsonPath: "$.model", operator: "equal", value: "m", factValue: "m" }),
      ],
      "24h",
      templates,
    );
    expect(facts.map((f) => f.text)).toEqual([
      "2,410 requests in 24 h",
      "83% of requests in 7 days asking for reasoning traces",
      "a request asking for synthetic training data",
      "a request with model m",
    ]);
    expect(facts[0]).toEqual({ fact: "requestCount", path: null, value: 2410, operator: "greaterThan", threshold: 1000, window: "24h", text: "2,410 requests in 24 h" });
    expect(facts[2]!.window).toBeNull();
  });

  it("leaves out conditions that failed, were never evaluated, or held under a not", () => {
    const facts = statementFacts(
      [cond({ path: "any[0]", result: false }), cond({ path: "any[1]", result: null }), cond({ path: "all[0].not", result: true }), cond({ path: "any[2]", factValue: 7 })],
      "1h",
      templates,
    );
    expect(facts.map((f) => f.text)).toEqual(["7 requests in 1 h"]);
  });

  it("formats windows and moments for a reader", () => {
    expect([formatWindow("15m"), formatWindow("24h"), formatWindow("1d"), formatWindow("30d")]).toEqual(["15 min", "24 h", "1 day", "30 days"]);
    expect(formatMoment(new Date("2026-12-07T05:04:59.123Z"))).toBe("2026-12-07 05:04 UTC");
  });
});
