// Turns claimed events into hits and hits into cases: event-scope rules on every event,
// account-scope rules once per account-minute as of its last stored event, or once per account
// per batch at its newest event, as configured (account-minutes.ts).
import { isAbortedTransaction, isDatabaseUnavailable } from "../../db/database";
import type { FactSource, RuleEvaluator } from "../../engine/evaluation";
import { eventFact } from "../events/stored-event";
import type { Logger } from "../../shared/logger";
import type { HitOutcome } from "../cases/case-repository";
import { withAgeNotes } from "../facts/fact-source";
import { scopesFor } from "../facts/link-components";
import type { RuleRegistry } from "../rules/rule-registry";
import { type EvaluationCadence, type MinuteGroup, accountMinutes, minutesToJudge, newestPerAccount } from "./account-minutes";
import type { PartitionLeases } from "./partitions";
import type { ClaimedBatch, ClaimedEvent } from "./claimed-batch";
import type { EvaluationStore, PendingHit } from "./evaluation-store";
import { subBatch } from "./evaluation-queue";

export type BatchResult = {
  claimed: number;
  evaluated: number;
  /** Live hits recorded in cases. */
  hits: number;
  /** Live hits an allow entry or a snooze suppressed (kept as side hits). */
  suppressed: number;
  /** Shadow versions' would-be hits (kept as side hits). */
  shadowHits: number;
  errors: number;
  /** Events that failed to evaluate on their own and were dead-lettered. */
  failed: number;
  outcomes: HitOutcome[];
  /** Longest time, in ms, between storing one of the batch's events and committing its evaluation. */
  lagMs: number;
};

/** At most this many accounts of its cluster are stored with a hit (the first by id); the account view lists the rest. */
export const hitLinkedAccounts = 100;
type Judgement = { group: MinuteGroup; asOf: ClaimedEvent };
/** A version to judge with: an active one (with its rule's running shadow, if any), or a shadow candidate. */
type Judge = { evaluator: RuleEvaluator; shadowId?: string; role?: "shadow" };

/** Faults that pass by themselves: the database unreachable, an aborted transaction, a lock or statement timeout. */
const timeoutCodes = new Set(["55P03", "57014"]);
const isTransient = (err: unknown) =>
  isDatabaseUnavailable(err) || isAbortedTransaction(err) || timeoutCodes.has((err as { code?: string })?.code ?? "");

/** `store`: the queue, the facts and the cases (evaluation-store.ts: SQL, or a fake in unit tests). */
export function createEvaluationService(deps: {
  store: EvaluationStore;
  rules: Pick<RuleRegistry, "current"> & Partial<Pick<RuleRegistry, "shadows">>;
  logger: Logger;
  leaseMs?: number;
  cadence?: EvaluationCadence;
}) {
  const { store, logger } = deps;
  const leaseMs = deps.leaseMs ?? 60_000;
  const cadence = deps.cadence ?? "batch";
  /** Outcomes per rule id since this process started, of its active version and of its shadow (read by /metrics). */
  const ruleStats: RuleStats = new Map();
  const count = (ruleId: string, outcome: "hit" | "miss" | "error", shadow: boolean) => {
    let s = ruleStats.get(ruleId);
    if (!s) ruleStats.set(ruleId, (s = { hit: 0, miss: 0, error: 0, shadow: { hit: 0, miss: 0, error: 0 } }));
    (shadow ? s.shadow : s)[outcome]++;
  };

  /**
   * Claims up to `size` queued events, evaluates them, commits the effects. Returns what it did.
   * `leases`: a worker's partitions (partitions.ts): it claims only their tasks and commits only
   * for those it still holds. Without, every partition (tests, a single caller).
   */
  async function runBatch(size: number, opts: { now?: () => Date; leases?: PartitionLeases } = {}): Promise<BatchResult> {
    const now = opts.now ?? (() => new Date());
    const owned = opts.leases?.owned();
    const empty: BatchResult = { claimed: 0, evaluated: 0, hits: 0, suppressed: 0, shadowHits: 0, errors: 0, failed: 0, outcomes: [], lagMs: 0 };
    if (owned && owned.length === 0) return empty;
    const batch = await store.claim(size, leaseMs, owned);
    const result: BatchResult = { ...empty, claimed: batch.eventPks.length };
    if (batch.eventPks.length === 0) return result;
    await evaluateIsolating(batch, now, result, opts.leases);
    const committedAt = now().getTime();
    result.lagMs = Math.max(0, ...batch.events.map((e) => committedAt - e.receivedAtMs));
    return result;
  }

  /**
   * Evaluates a batch; if it fails for a reason other than the database (a fault in the data or
   * the code), evaluates its halves apart, down to the one event that fails on its own, which is
   * dead-lettered so that it cannot hold back the events behind it. Database faults are rethrown:
   * the lease expires and the whole batch is tried again later.
   */
  async function evaluateIsolating(batch: ClaimedBatch, now: () => Date, result: BatchResult, leases?: PartitionLeases): Promise<void> {
    try {
      const part = await evaluateBatch(batch, now, leases);
      result.evaluated += part.evaluated;
      result.hits += part.hits;
      result.suppressed += part.suppressed;
      result.shadowHits += part.shadowHits;
      result.errors += part.errors;
      result.outcomes.push(...part.outcomes);
    } catch (err) {
      if (isTransient(err) || batch.events.length === 0) throw err;
      if (batch.events.length === 1) {
        const event = batch.events[0]!;
        const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        if (await store.deadLetter(batch, event, message)) {
          result.failed++;
          logger.error({ err, eventId: event.event.eventId, accountId: event.accountId }, "event failed to evaluate on its own; moved to evaluation_failure");
        }
        return;
      }
      logger.warn({ err, events: batch.events.length }, "evaluation batch failed; evaluating its halves apart to find the cause");
      const mid = Math.ceil(batch.events.length / 2);
      await evaluateIsolating(subBatch(batch, batch.events.slice(0, mid)), now, result, leases);
      await evaluateIsolating(subBatch(batch, batch.events.slice(mid)), now, result, leases);
    }
  }

  /** The account-minutes this batch judges (see account-minutes.ts), each with the event it is judged as of. */
  async function minutesOf(batch: ClaimedBatch): Promise<Judgement[]> {
    if (cadence === "batch") return newestPerAccount(batch.events);
    const groups = accountMinutes(batch.events);
    return minutesToJudge(groups, await store.minuteStates(groups));
  }

  async function evaluateBatch(batch: ClaimedBatch, now: () => Date, leases?: PartitionLeases): Promise<Omit<BatchResult, "claimed" | "lagMs" | "failed">> {
    const part = { evaluated: 0, hits: 0, suppressed: 0, shadowHits: 0, errors: 0, outcomes: [] as HitOutcome[] };
    const active = await deps.rules.current();
    // Shadow versions run beside the active ones, on the same fact reads (the batch's loader
    // answers a read both ask for once): only their own evaluation is added (docs/rule-lifecycle.md).
    const at = now().getTime();
    const shadows = (deps.rules.shadows?.() ?? []).filter((s) => s.endsAt === null || s.endsAt > at);
    const shadowOf = new Map(shadows.map((s) => [s.evaluator.rule.id, s.shadowId]));
    const rules: Judge[] = [
      ...active.map((evaluator) => ({ evaluator, shadowId: shadowOf.get(evaluator.rule.id) })),
      ...shadows.map((s) => ({ evaluator: s.evaluator, shadowId: s.shadowId, role: "shadow" as const })),
    ];
    // The links stored before this batch was claimed join their components first, in the link
    // scopes these rules read (link-components.ts).
    await store.uniteLinks(scopesFor(rules.map((r) => r.evaluator.rule)));
    const eventRules = rules.filter((r) => r.evaluator.rule.scope === "event");
    const accountRules = rules.filter((r) => r.evaluator.rule.scope === "account");

    const pending: PendingHit[] = [];
    // Minute cadence: account-scope rules judge each account-minute once, as of the minute's last
    // stored event, in the batch that holds the minute's highest queued key (account-minutes.ts):
    // batch size and worker count then change nothing of what is judged, and the backtest judges
    // the same minutes. Batch cadence: each account once, at its newest event in the batch.
    const judged = accountRules.length ? await minutesOf(batch) : [];
    // Every evaluation of the batch runs at once over one loader: the fact reads they reach in the
    // same round go out as one statement each (fact-loader.ts), and only the facts their
    // conditions get to are read.
    const reads = store.readsForBatch();
    const sourceOf = (e: ClaimedEvent) => reads.sourceOf(eventFact(e.event));
    await Promise.all([
      ...(eventRules.length ? batch.events : []).map((e) => {
        const source = sourceOf(e);
        return Promise.all(eventRules.map((rule) => judge(rule, source, e.pk, e.accountId, pending, part)));
      }),
      ...judged.map((j) => {
        const source = sourceOf(j.asOf);
        // The effect is owned through the batch's own event of the minute (the lease check in applyEffects).
        return Promise.all(accountRules.map((rule) => judge(rule, source, j.group.maxPk, j.group.accountId, pending, part)));
      }),
    ]);
    part.evaluated = batch.events.length;
    // The linked accounts each hit stores: its cluster (the "any" component, read already when a
    // rule asked for it), the first hitLinkedAccounts by id, whatever the cluster's size.
    await Promise.all(
      pending.map(async (p) => {
        const members = await reads.cluster(p.hit.accountId);
        p.hit.linkedAccounts = members.slice(0, hitLinkedAccounts + 1).filter((id) => id !== p.hit.accountId).slice(0, hitLinkedAccounts);
      }),
    );
    await applyEffects(batch, pending, now(), part, leases);
    return part;
  }

  async function judge(j: Judge, source: FactSource, eventPk: bigint, accountId: string, pending: PendingHit[], result: { errors: number }): Promise<void> {
    const rule = j.evaluator;
    const evaluation = await rule.evaluate(source);
    count(rule.rule.id, evaluation.outcome, j.role === "shadow");
    if (evaluation.outcome === "error") {
      if (!j.role) result.errors++;
      logger.warn({ ruleId: rule.rule.id, version: rule.version, shadow: j.role === "shadow", eventId: source.event.eventId, error: evaluation.error }, "rule evaluation failed");
      return;
    }
    if (evaluation.outcome !== "hit") return;
    pending.push({
      eventPk,
      ...(j.role ? { role: j.role } : {}),
      ...(j.shadowId ? { shadowId: j.shadowId } : {}),
      hit: {
        accountId,
        rule: rule.rule,
        version: rule.version,
        occurredAt: new Date(source.event.occurredAt),
        triggerEventId: source.event.eventId,
        window: evaluation.window,
        conditions: await withAgeNotes(source, rule.rule.window, evaluation.conditions),
        eventIds: evaluation.eventIds,
        linkedAccounts: [],
      },
    });
  }

  async function applyEffects(
    batch: ClaimedBatch,
    pending: PendingHit[],
    now: Date,
    result: { hits: number; suppressed: number; shadowHits: number; outcomes: HitOutcome[] },
    leases?: PartitionLeases,
  ): Promise<void> {
    const committed = await store.commit(batch, pending, now, leases);
    if (committed.owned.size < batch.eventPks.length) {
      logger.warn({ lost: batch.eventPks.length - committed.owned.size }, "evaluation lease or partition lost for part of a batch; another worker evaluates it");
    }
    result.outcomes.push(...committed.outcomes);
    result.hits += committed.recorded;
    result.suppressed += committed.suppressed;
    result.shadowHits += committed.shadowHits;
  }

  return { runBatch, ruleStats };
}

type OutcomeCounts = { hit: number; miss: number; error: number };
export type RuleStats = Map<string, OutcomeCounts & { shadow: OutcomeCounts }>;

export type EvaluationService = ReturnType<typeof createEvaluationService>;
