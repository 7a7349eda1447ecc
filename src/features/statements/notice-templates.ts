// The texts of statements of reasons: mustache templates kept as a file beside the rules
// (<rules dir>/notices/default.json), validated as rule files are (every fault with its file and
// path, nothing used until all is valid), with a built-in default when the folder has none.
// Mustache (logic-less templates) renders them; HTML escaping is off: a statement is plain text.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Mustache from "mustache";
import { canonicalize } from "json-canonicalize";
import { z } from "zod";
import { factNames, linkByParam } from "../../engine/fact-catalog";
import { RuleFileError } from "../rules/rule-files";
import { issuesToFieldErrors } from "../../shared/errors";

/** The names a statement template may use (docs/due-process.md lists what each holds). */
export const statementVariables = [
  "statementId",
  "accountId",
  "action",
  "actionText",
  "since",
  "clauseRef",
  "clauseText",
  "ruleId",
  "ruleVersion",
  "statusText",
  "facts",
  "text",
  "linked",
  "linkedBy",
  "appealUntil",
  "caseResolved",
  "appealReversed",
] as const;
/** The names a fact phrase may use. */
export const factPhraseVariables = ["value", "percent", "window", "signal", "path"] as const;

/** Problems with one template: unknown names and syntax errors, as messages. */
function templateFaults(template: string, allowed: readonly string[]): string[] {
  let tokens: unknown[];
  try {
    tokens = Mustache.parse(template) as unknown[];
  } catch (err) {
    return [`not a valid template: ${(err as Error).message}`];
  }
  const faults: string[] = [];
  const walk = (list: unknown[]) => {
    for (const token of list as [string, string, number, number, unknown[]?][]) {
      const [type, name, , , children] = token;
      if (["name", "&", "{", "#", "^"].includes(type) && name !== "." && !allowed.includes(name)) {
        faults.push(`'{{${name}}}' is not a name a template may use (${allowed.join(", ")})`);
      }
      if (type === ">") faults.push(`partials ('{{> ${name}}}') are not supported`);
      if (Array.isArray(children)) walk(children);
    }
  };
  walk(tokens);
  return faults;
}

const template = (allowed: readonly string[]) =>
  z
    .string()
    .min(1)
    .max(20_000)
    .superRefine((text, ctx) => {
      for (const message of templateFaults(text, allowed)) ctx.addIssue({ code: "custom", message });
    });

const signalName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "must be a signal name (letters, digits, _)");

export const noticeSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "must be lowercase letters, digits, '.', '_' or '-'"),
  /** A statement for an enforcement placed on the account. */
  enforcement: template(statementVariables),
  /** A statement for an enforcement lifted. */
  lifting: template(statementVariables),
  /** A statement that an appeal was decided and the enforcement stands. */
  appealUpheld: template(statementVariables),
  /** One phrase per fact, e.g. "{{value}} requests in {{window}}"; facts left out use the built-in phrase. */
  facts: z
    .record(z.string(), template(factPhraseVariables))
    .superRefine((facts, ctx) => {
      for (const name of Object.keys(facts)) if (!factNames.includes(name)) ctx.addIssue({ code: "custom", path: [name], message: `'${name}' is not a fact (${factNames.join(", ")})` });
    })
    .optional(),
  /** Signals in plain words, e.g. reasoningTraceRequest: "asking for reasoning traces". */
  signals: z.record(signalName, z.string().min(1).max(200)).optional(),
  /** Link kinds in plain words, e.g. paymentFingerprint: "payment method". */
  linkKinds: z.partialRecord(linkByParam, z.string().min(1).max(200)).optional(),
});
export type NoticeDocument = z.infer<typeof noticeSchema>;

/** The built-in notice: what a provider gets without rules/notices/default.json (the shipped file is the same). */
export const builtInNotice: NoticeDocument = {
  id: "default",
  enforcement: [
    "Statement of reasons {{statementId}}",
    "",
    "Since {{since}}, your account {{accountId}} is {{actionText}}.",
    "",
    'Why: clause {{clauseRef}} of our terms: "{{clauseText}}"',
    "{{^linked}}",
    "What we observed on your account:",
    "{{#facts}}",
    "- {{text}}",
    "{{/facts}}",
    "{{/linked}}",
    "{{#linked}}",
    "Your account was acted on as part of a group of linked accounts: it shares a {{linkedBy}} with an account we found in breach of this clause. This statement holds no other customer's identity or data.",
    "{{/linked}}",
    "",
    "How it was decided: automated rules detected the activity (rule {{ruleId}}, version {{ruleVersion}}); a person decided to act on it.",
    "",
    "You can appeal until {{appealUntil}}: quote {{statementId}} in your provider's customer portal. A person who took no part in the decision will review your appeal.",
  ].join("\n"),
  lifting: [
    "Statement of reasons {{statementId}}",
    "",
    "Since {{since}}, the measure that {{actionText}} your account {{accountId}} under clause {{clauseRef}} of our terms is lifted. Your account is now {{statusText}}.",
    "{{#caseResolved}}",
    "The case that led to it is closed.",
    "{{/caseResolved}}",
    "{{#appealReversed}}",
    "We reviewed your appeal and reversed our decision.",
    "{{/appealReversed}}",
  ].join("\n"),
  appealUpheld: [
    "Statement of reasons {{statementId}}",
    "",
    "We reviewed your appeal against the measure that {{actionText}} your account {{accountId}} under clause {{clauseRef}} of our terms, and the decision stands. Your account is {{statusText}}.",
    "A person who took no part in the original decision reviewed it.",
  ].join("\n"),
  facts: {
    requestCount: "{{value}} requests in {{window}}",
    inputTokens: "{{value}} input tokens in {{window}}",
    outputTokens: "{{value}} output tokens in {{window}}",
    distinctModels: "{{value}} different models in {{window}}",
    distinctIps: "{{value}} different IP addresses in {{window}}",
    distinctCountries: "{{value}} different countries in {{window}}",
    distinctPromptTemplates: "{{value}} different prompt templates in {{window}}",
    topTemplateShare: "{{percent}} of requests in {{window}} used the same prompt template",
    newModelShare: "{{percent}} of requests in {{window}} went to a newly released model",
    peakRequestsPerMinute: "up to {{value}} requests in one minute within {{window}}",
    signalRate: "{{percent}} of requests in {{window}} {{signal}}",
    linkedAccounts: "{{value}} accounts linked to this one",
    linkedSuspendedAccounts: "{{value}} suspended accounts linked to this one",
    clusterRequestCount: "{{value}} requests in {{window}} by this account and the accounts linked to it",
    clusterOutputTokens: "{{value}} output tokens in {{window}} by this account and the accounts linked to it",
    clusterSignalRate: "{{percent}} of requests in {{window}} by this account and the accounts linked to it {{signal}}",
    clusterNewAccountShare: "{{percent}} of the accounts linked to this one were newly created",
    clusterKnownAgeShare: "{{percent}} of the accounts linked to this one have a known creation date",
    clusterTopTemplateShare: "{{percent}} of requests in {{window}} by this account and the accounts linked to it used the same prompt template",
    clusterNewModelShare: "{{percent}} of requests in {{window}} by this account and the accounts linked to it went to a newly released model",
    indicatorMatches: "{{value}} of the account's values matched indicators another provider shared of an operation it confirmed, in {{window}}",
    event: "a request with {{path}} {{value}}",
    account: "the account's {{path}}: {{value}}",
  },
  signals: {
    reasoningTraceRequest: "asking for reasoning traces",
    syntheticDataRequest: "asking for synthetic training data",
    jailbreakAttempt: "attempting to bypass safety measures",
  },
  linkKinds: {
    paymentFingerprint: "payment method",
    ipPrefix: "network address range",
    orgId: "organisation",
    promptTemplateHash: "prompt template",
    sharedIpPrefix: "network address range",
    sharedIpPrefixTemplate: "network address range and prompt template",
    sharedIpPrefixWave: "network address range and sign-up time",
    any: "payment method, network, organisation or prompt template",
  },
};

/** A validated notice, ready to render: its id and checksum name the version a statement used. */
export type NoticeTemplates = { doc: NoticeDocument; version: string };

export function noticeTemplates(doc: NoticeDocument): NoticeTemplates {
  const sum = createHash("sha256").update(canonicalize(doc)).digest("hex").slice(0, 12);
  return { doc, version: `${doc.id}@${sum}` };
}

/** Validates a parsed notice document: the notice, or every fault with its path. */
export function validateNotice(value: unknown): { ok: true; notice: NoticeDocument } | { ok: false; errors: { path: string; message: string }[] } {
  const r = noticeSchema.safeParse(value);
  if (r.success) return { ok: true, notice: r.data };
  return { ok: false, errors: issuesToFieldErrors(r.error.issues) };
}

/** <rules dir>/notices/default.json, validated; the built-in notice when there is none. Throws RuleFileError with every fault. */
export function loadNotice(rulesDir: string): NoticeTemplates {
  const file = path.join(rulesDir, "notices", "default.json");
  if (!fs.existsSync(file)) return noticeTemplates(builtInNotice);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new RuleFileError([{ file, path: "", message: `not valid JSON: ${(err as Error).message}` }]);
  }
  const v = validateNotice(parsed);
  if (!v.ok) throw new RuleFileError(v.errors.map((e) => ({ file, ...e })));
  if (v.notice.id !== "default") throw new RuleFileError([{ file, path: "id", message: "the notice in notices/default.json must have the id 'default'" }]);
  return noticeTemplates(v.notice);
}

/** Renders a template as plain text (no HTML escaping). */
export function renderTemplate(text: string, view: Record<string, unknown>): string {
  return Mustache.render(text, view, {}, { escape: (s: unknown) => String(s) });
}
