// Verifies an evidence bundle offline: its Ed25519 signature, the digests of the events it carries,
// and each hit re-evaluated: the pinned rule version judged again on the bundled fact values,
// condition by condition, by the same evaluator the server uses. Pure: no database, no network.
import type { KeyObject } from "node:crypto";
import type { ConditionExplanation, EventFact, FactSource, LinkedQuery, RuleCompiler, WindowQuery } from "../../engine/evaluation";
import { compileBound } from "../../engine/list-binding";
import { type ListLookup, isListRef } from "../../engine/named-lists";
import { factReader } from "../../engine/fact-reader";
import { validateRule } from "../../engine/rule-schema";
import { canonicalDigest, signatureHolds } from "./signing-keys";
import type { EvidenceBundle } from "./evidence-views";

export type ConditionCheck = { path: string; fact: string; factValue: unknown; operator: string; value: unknown; recorded: boolean | null; recomputed: boolean | null };
export type HitCheck = { hitId: string; ruleVersion: number; reproduced: boolean; outcome: string; reason?: string; conditions: ConditionCheck[] };
export type BundleCheck = {
  signature: boolean;
  keyId: string;
  /** Events whose canonical JSON no longer hashes to the digest listed beside them. */
  eventsTampered: string[];
  hits: HitCheck[];
  /** The signature holds, every event matches its digest, and every hit is reproduced. */
  ok: boolean;
};

/** Sets `value` at a `$.a.b` path inside `target`. */
function setPath(target: Record<string, unknown>, jsonPath: string, value: unknown): void {
  const parts = jsonPath.replace(/^\$\.?/, "").split(".").filter(Boolean);
  let node = target;
  for (const [i, part] of parts.entries()) {
    if (i === parts.length - 1) node[part] = value;
    else node = (node[part] ??= {}) as Record<string, unknown>;
  }
}

class NotRecorded extends Error {}

/**
 * A FactSource that answers from a hit's recorded conditions only: the event and account facts
 * rebuilt from the paths that were read, each window and linked fact by the exact query its
 * condition made (the same fact reader the evaluators use computes both sides). A fact the hit
 * never recorded throws: the rule asked for something the bundle cannot show.
 */
function recordedSource(conditions: readonly (Omit<ConditionExplanation, "factValue"> & { factValue?: unknown })[], ruleWindow: string, eventIds: string[], trigger: { eventId: string; accountId: string; occurredAt: string }): FactSource {
  const event: Record<string, unknown> = { ...trigger };
  const account: Record<string, unknown> = {};
  const values = new Map<string, unknown>();
  const keyOf = (name: string, query: WindowQuery | LinkedQuery) => JSON.stringify([name, Object.entries(query).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b))]);
  for (const c of conditions) {
    if (!("factValue" in c)) continue;
    if (c.fact === "event") {
      if (c.jsonPath) setPath(event, c.jsonPath, c.factValue);
      else Object.assign(event, c.factValue);
    } else if (c.fact === "account") {
      if (c.jsonPath) setPath(account, c.jsonPath, c.factValue);
      else Object.assign(account, c.factValue);
    } else {
      // Which query this condition made: read the fact through a probe that records it.
      let key = "";
      const probe = {
        windowAggregate: (name: string, q: WindowQuery) => ((key = keyOf(name, q)), Promise.resolve(0)),
        linkedFact: (name: string, q: LinkedQuery) => ((key = keyOf(name, q)), Promise.resolve(0)),
      } as unknown as FactSource;
      void factReader(c.fact, c.params ?? {}, ruleWindow).read(probe);
      values.set(key, c.factValue);
    }
  }
  const answer = (key: string) => {
    if (!values.has(key)) throw new NotRecorded(`the hit recorded no value for ${key}`);
    return Promise.resolve(values.get(key) as number);
  };
  return {
    event: event as EventFact,
    account: () => Promise.resolve(account as never),
    windowAggregate: (name, q) => answer(keyOf(name, q)),
    linkedFact: (name, q) => answer(keyOf(name, q)),
    contributingEventIds: () => Promise.resolve(eventIds),
  };
}

/**
 * Named lists as the hit found them: a bundle holds the list's name, not its values, so a value's
 * membership is what the hit recorded (inList met: a member; notInList met: not one).
 */
function recordedLists(conditions: readonly { operator: string; value: unknown; factValue?: unknown; result: boolean | null }[]): ListLookup {
  const members = new Map<string, boolean>();
  for (const c of conditions) {
    if (c.result === null || !isListRef(c.value) || (c.operator !== "inList" && c.operator !== "notInList")) continue;
    members.set(`${c.value.list}\u0000${String(c.factValue)}`, c.operator === "inList" ? c.result : !c.result);
  }
  return { has: (list, value) => members.get(`${list}\u0000${value}`) ?? false };
}

/** Checks a bundle with `publicKey` (the key its `signature.keyId` names), re-evaluating with `compile`. */
export async function verifyBundle(bundle: EvidenceBundle, publicKey: KeyObject, compile: RuleCompiler): Promise<BundleCheck> {
  const signature = signatureHolds(bundle as unknown as Record<string, unknown>, publicKey);
  const eventsTampered = bundle.events.filter((e) => canonicalDigest(e.event) !== e.sha256).map((e) => e.event.eventId);
  const hits: HitCheck[] = [];
  for (const hit of bundle.hits) {
    const version = bundle.ruleVersions.find((v) => v.version === hit.ruleVersion);
    const base = { hitId: hit.id, ruleVersion: hit.ruleVersion };
    const recordedOnly = hit.conditions.map((c) => ({ path: c.path, fact: c.fact, factValue: c.factValue, operator: c.operator, value: c.value, recorded: c.result, recomputed: null }));
    if (!version) {
      hits.push({ ...base, reproduced: false, outcome: "error", reason: `the bundle holds no document of rule version ${hit.ruleVersion}`, conditions: recordedOnly });
      continue;
    }
    const parsed = validateRule(version.document);
    if (!parsed.ok) {
      hits.push({ ...base, reproduced: false, outcome: "error", reason: `rule version ${hit.ruleVersion} is not a valid rule: ${parsed.errors.map((e) => `${e.path} ${e.message}`).join("; ")}`, conditions: recordedOnly });
      continue;
    }
    const trigger = bundle.events.find((e) => e.event.eventId === hit.triggerEventId)?.event;
    const source = recordedSource(hit.conditions, parsed.rule.window, hit.eventIds, { eventId: hit.triggerEventId, accountId: bundle.case.accountId, occurredAt: trigger?.occurredAt ?? hit.occurredAt });
    const evaluation = await compileBound(compile, parsed.rule, hit.ruleVersion, recordedLists(hit.conditions)).evaluate(source);
    if (evaluation.outcome === "error") {
      hits.push({ ...base, reproduced: false, outcome: "error", reason: evaluation.error, conditions: recordedOnly });
      continue;
    }
    const recomputed = new Map(evaluation.conditions.map((c) => [c.path, c]));
    const conditions = hit.conditions.map((c) => ({ path: c.path, fact: c.fact, factValue: c.factValue, operator: c.operator, value: c.value, recorded: c.result, recomputed: recomputed.get(c.path)?.result ?? null }));
    const reproduced = evaluation.outcome === "hit" && conditions.every((c) => c.recorded === null || c.recorded === c.recomputed);
    hits.push({ ...base, reproduced, outcome: evaluation.outcome, conditions });
  }
  return { signature, keyId: bundle.signature.keyId, eventsTampered, hits, ok: signature && eventsTampered.length === 0 && hits.length > 0 && hits.every((h) => h.reproduced) };
}
