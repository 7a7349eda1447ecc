// Turns claimed events into hits and hits into cases: event-scope rules on every event,
// account-scope rules once per account-minute as of its last stored event, or once per account
// per batch at its newest event, as configured (account-minutes.ts).
import { type Database, isAbortedTransaction, isDatabaseUnavailable } from "../../db/database";
import { inTransaction } from "../../db/transaction";
import type { EventFact, RuleEvaluator } from "../../engine/evaluation";
import { windowMs } from "../../engine/window";
import type { Logger } from "../../logger";
import { type Hit, type HitOutcome, recordHits } from "../cases/case-repository";
import { linkNeeds, ownReadNeeds, ownTotalsWindows } from "../../engine/window-needs";
import { type Prefetched, accountRowsMany, createFactSource, linkedAccountIdsMany, signalKey, suspendedAmong } from "../facts/fact-queries";
import { signalHitsMany, usageTotalsMany, valueStatsMany } from "../facts/usage-rollups";
import type { RuleRegistry } from "../rules/rule-registry";
import type { WebhookOutbox } from "../webhooks/webhook-outbox";
import { type EvaluationCadence, type MinuteGroup, accountMinutes, minutesToJudge, newestPerAccount } from "./account-minutes";
import { type ClaimedBatch, type ClaimedEvent, claimBatch, completeBatch, deadLetter, minuteStates, subBatch } from "./evaluation-queue";

export type BatchResult = {
  claimed: number;
  evaluated: number;
  hits: number;
  errors: number;
  /** Events that failed to evaluate on their own and were dead-lettered. */
  failed: number;
  outcomes: HitOutcome[];
  /** Longest time, in ms, between storing one of the batch's events and committing its evaluation. */
  lagMs: number;
};

/** A hit waiting for its effects; `linkWindowMs`: its linked accounts are still to be read, over that window as of the hit. */
type PendingHit = { hit: Hit; eventPk: bigint; linkWindowMs?: number };
type Judgement = { group: MinuteGroup; asOf: ClaimedEvent };

/** Accounts of one batch judged at once; the registry builds each rule for as many evaluations in flight (json-rules-engine: one engine each). */
export const evaluationConcurrency = 8;

/** Faults that pass by themselves: the database unreachable, an aborted transaction, a lock or statement timeout. */
const timeoutCodes = new Set(["55P03", "57014"]);
const isTransient = (err: unknown) =>
  isDatabaseUnavailable(err) || isAbortedTransaction(err) || timeoutCodes.has((err as { code?: string })?.code ?? "");

export function createEvaluationService(deps: { db: Database; rules: RuleRegistry; logger: Logger; leaseMs?: number; cadence?: EvaluationCadence; outbox?: WebhookOutbox }) {
  const { db, logger } = deps;
  const { prisma } = db;
  const leaseMs = deps.leaseMs ?? 60_000;
  const cadence = deps.cadence ?? "batch";
  /** Outcomes per rule id since this process started (read by /metrics). */
  const ruleStats: RuleStats = new Map();
  const count = (ruleId: string, outcome: "hit" | "miss" | "error") => {
    let s = ruleStats.get(ruleId);
    if (!s) ruleStats.set(ruleId, (s = { hit: 0, miss: 0, error: 0 }));
    s[outcome]++;
  };

  /** Claims up to `size` queued events, evaluates them, commits the effects. Returns what it did. */
  async function runBatch(size: number, now: () => Date = () => new Date()): Promise<BatchResult> {
    const batch = await claimBatch(db, size, leaseMs);
    const result: BatchResult = { claimed: batch.eventPks.length, evaluated: 0, hits: 0, errors: 0, failed: 0, outcomes: [], lagMs: 0 };
    if (batch.eventPks.length === 0) return result;
    await evaluateIsolating(batch, now, result);
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
  async function evaluateIsolating(batch: ClaimedBatch, now: () => Date, result: BatchResult): Promise<void> {
    try {
      const part = await evaluateBatch(batch, now);
      result.evaluated += part.evaluated;
      result.hits += part.hits;
      result.errors += part.errors;
      result.outcomes.push(...part.outcomes);
    } catch (err) {
      if (isTransient(err) || batch.events.length === 0) throw err;
      if (batch.events.length === 1) {
        const event = batch.events[0]!;
        const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        if (await deadLetter(db, batch, event, message)) {
          result.failed++;
          logger.error({ err, eventId: event.event.eventId, accountId: event.accountId }, "event failed to evaluate on its own; moved to evaluation_failure");
        }
        return;
      }
      logger.warn({ err, events: batch.events.length }, "evaluation batch failed; evaluating its halves apart to find the cause");
      const mid = Math.ceil(batch.events.length / 2);
      await evaluateIsolating(subBatch(batch, batch.events.slice(0, mid)), now, result);
      await evaluateIsolating(subBatch(batch, batch.events.slice(mid)), now, result);
    }
  }

  /** The account-minutes this batch judges (see account-minutes.ts), each with the event it is judged as of. */
  async function minutesOf(batch: ClaimedBatch): Promise<Judgement[]> {
    if (cadence === "batch") return newestPerAccount(batch.events);
    const groups = accountMinutes(batch.events);
    return minutesToJudge(groups, await minuteStates(db, groups));
  }

  async function evaluateBatch(batch: ClaimedBatch, now: () => Date): Promise<Omit<BatchResult, "claimed" | "lagMs" | "failed">> {
    const part = { evaluated: 0, hits: 0, errors: 0, outcomes: [] as HitOutcome[] };
    const rules = await deps.rules.current();
    const eventRules = rules.filter((r) => r.rule.scope === "event");
    const accountRules = rules.filter((r) => r.rule.scope === "account");

    const byAccount = new Map<string, ClaimedEvent[]>();
    for (const e of batch.events) {
      const list = byAccount.get(e.accountId);
      if (list) list.push(e);
      else byAccount.set(e.accountId, [e]);
    }

    const pending: PendingHit[] = [];
    // Minute cadence: account-scope rules judge each account-minute once, as of the minute's last
    // stored event, in the batch that holds the minute's highest queued key (account-minutes.ts):
    // batch size and worker count then change nothing of what is judged, and the backtest judges
    // the same minutes. Batch cadence: each account once, at its newest event in the batch.
    const judged = accountRules.length ? await minutesOf(batch) : [];
    // Judgements are keyed by account and minute: a backlog batch can judge several minutes of one account.
    const keyOf = (j: Judgement) => `${j.asOf.accountId}\u0000${j.group.minuteMs}`;
    const asOf = judged.map((j) => ({ key: keyOf(j), accountId: j.asOf.accountId, at: j.asOf.occurredAtMs }));
    // The own totals the account-scope rules read, for every judgement of the batch, in one statement
    // (a fact read that is not prefetched is read when the rule asks for it).
    const windows = [...new Set(accountRules.flatMap((r) => ownTotalsWindows(r.rule)))];
    const asks = asOf.flatMap(({ key, accountId, at }) => windows.map((w) => ({ key, accountId, windowMs: w, from: new Date(at - w), to: new Date(at) })));
    const prefetched = new Map<string, Prefetched>();
    const entry = (key: string) => {
      let p = prefetched.get(key);
      if (!p) prefetched.set(key, (p = { totals: new Map(), values: new Map(), signalHits: new Map(), linked: new Map() }));
      return p;
    };
    // The linked accounts every account-scope rule reads, for every judgement of the batch, in one statement too.
    const links = [...new Map(accountRules.flatMap((r) => linkNeeds(r.rule)).map((l) => [`${l.by}:${l.windowMs}`, l])).values()];
    const linkAsks = asOf.flatMap(({ key, accountId, at }) =>
      links.map((l) => ({ key, accountId, by: l.by, linkKey: `${l.by}:${l.windowMs}`, from: new Date(at - l.windowMs), to: new Date(at) })),
    );
    // And the account's own value stats and signal hits: one statement each for the batch, instead
    // of one per account (measured on the 10,000-account scenario, these per-account reads were
    // most of the database's time).
    const own = accountRules.map((r) => ownReadNeeds(r.rule));
    const valueWindows = [...new Set(own.flatMap((n) => n.valueWindows))];
    const signals = [...new Map(own.flatMap((n) => n.signals).map((x) => [signalKey(x.signal, x.threshold, x.windowMs), x])).values()];
    const valueAsks = asOf.flatMap(({ key, accountId, at }) => valueWindows.map((w) => ({ key, accountIds: [accountId], windowMs: w, from: new Date(at - w), to: new Date(at) })));
    const signalAsks = asOf.flatMap(({ key, accountId, at }) =>
      signals.map((x) => ({ key, accountIds: [accountId], signalKey: signalKey(x.signal, x.threshold, x.windowMs), signal: x.signal, threshold: x.threshold, from: new Date(at - x.windowMs), to: new Date(at) })),
    );
    const judgedAccounts = [...new Set(judged.map((j) => j.group.accountId))];
    const [totals, linked, values, hits, accountRows] = await Promise.all([
      usageTotalsMany(db, asks),
      linkedAccountIdsMany(db, linkAsks),
      valueStatsMany(db, valueAsks),
      signalHitsMany(db, signalAsks),
      accountRowsMany(db, judgedAccounts),
    ]);
    // Which of every linked account read are suspended: one statement for the batch, not one per judgement.
    const suspended = await suspendedAmong(db, [...new Set(linked.flat())]);
    for (const { key, accountId } of asOf) Object.assign(entry(key), { account: accountRows.get(accountId) ?? null, suspended });
    totals.forEach((t, i) => entry(asks[i]!.key).totals!.set(asks[i]!.windowMs, t));
    linked.forEach((ids, i) => entry(linkAsks[i]!.key).linked!.set(linkAsks[i]!.linkKey, ids));
    values.forEach((v, i) => entry(valueAsks[i]!.key).values!.set(valueAsks[i]!.windowMs, v));
    hits.forEach((n, i) => entry(signalAsks[i]!.key).signalHits!.set(signalAsks[i]!.signalKey, n));

    const judgementsOf = new Map<string, Judgement[]>();
    for (const j of judged) {
      const list = judgementsOf.get(j.group.accountId);
      if (list) list.push(j);
      else judgementsOf.set(j.group.accountId, [j]);
    }
    const evaluateAccount = async ([accountId, events]: [string, ClaimedEvent[]]) => {
      for (const e of events) {
        const source = createFactSource(db, e.event as unknown as EventFact);
        for (const rule of eventRules) await judge(rule, source, e.pk, accountId, pending, part);
      }
      for (const j of judgementsOf.get(accountId) ?? []) {
        const known = prefetched.get(keyOf(j));
        const source = createFactSource(db, j.asOf.event as unknown as EventFact, known);
        // The effect is owned through the batch's own event of the minute (the lease check in applyEffects).
        for (const rule of accountRules) await judge(rule, source, j.group.maxPk, accountId, pending, part, known?.linked);
      }
    };
    // Accounts are judged concurrently: their fact reads overlap on the database.
    const queue = [...byAccount];
    await Promise.all(
      Array.from({ length: Math.min(evaluationConcurrency, queue.length) }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await evaluateAccount(next);
      }),
    );
    part.evaluated = batch.events.length;
    // The linked accounts of the hits that were not read with the batch's facts: one statement for all of them.
    const unread = pending.filter((p) => p.linkWindowMs !== undefined);
    const unreadLinks = await linkedAccountIdsMany(
      db,
      unread.map((p) => ({ accountId: p.hit.accountId, by: "any" as const, from: new Date(p.hit.occurredAt.getTime() - p.linkWindowMs!), to: p.hit.occurredAt })),
    );
    unread.forEach((p, i) => (p.hit.linkedAccounts = unreadLinks[i]!));
    await applyEffects(batch, pending, now(), part);
    return part;
  }

  async function judge(
    rule: RuleEvaluator,
    source: ReturnType<typeof createFactSource>,
    eventPk: bigint,
    accountId: string,
    pending: PendingHit[],
    result: { errors: number },
    /** Linked accounts read for the batch as of this event (account-scope rules), by `${by}:${windowMs}`. */
    linkedAsOfEvent?: Map<string, string[]>,
  ): Promise<void> {
    const evaluation = await rule.evaluate(source);
    count(rule.rule.id, evaluation.outcome);
    if (evaluation.outcome === "error") {
      result.errors++;
      logger.warn({ ruleId: rule.rule.id, version: rule.version, eventId: source.event.eventId, error: evaluation.error }, "rule evaluation failed");
      return;
    }
    if (evaluation.outcome !== "hit") return;
    const at = new Date(source.event.occurredAt);
    const linkWindow = windowMs(rule.rule.window);
    const linked = linkedAsOfEvent?.get(`any:${linkWindow}`);
    pending.push({
      eventPk,
      ...(linked ? {} : { linkWindowMs: linkWindow }),
      hit: {
        accountId,
        rule: rule.rule,
        version: rule.version,
        occurredAt: at,
        triggerEventId: source.event.eventId,
        window: evaluation.window,
        conditions: evaluation.conditions,
        eventIds: evaluation.eventIds,
        linkedAccounts: linked ?? [],
      },
    });
  }

  async function applyEffects(batch: ClaimedBatch, pending: PendingHit[], now: Date, result: { hits: number; outcomes: HitOutcome[] }): Promise<void> {
    await inTransaction(prisma, async (tx) => {
      const owned = await completeBatch(tx, batch);
      if (owned.size < batch.eventPks.length) {
        logger.warn({ lost: batch.eventPks.length - owned.size }, "evaluation lease expired for part of a batch; another worker evaluates it");
      }
      const accounts = [...new Set(pending.map((p) => p.hit.accountId))];
      if (accounts.length) {
        // Case writes for one account are serialized across workers; taking the locks in one order avoids deadlocks.
        await tx.$queryRaw`
          SELECT count(*)::int AS n FROM (
            SELECT pg_advisory_xact_lock(1, hashtext(a)) FROM (SELECT a FROM unnest(${accounts}::text[]) a ORDER BY a) sorted) locked`;
      }
      const hits = pending.filter((p) => owned.has(p.eventPk)).map((p) => p.hit);
      result.outcomes.push(...(await recordHits(tx, hits, now, deps.outbox)));
      result.hits += hits.length;
    });
  }

  return { runBatch, ruleStats };
}

export type RuleStats = Map<string, { hit: number; miss: number; error: number }>;

export type EvaluationService = ReturnType<typeof createEvaluationService>;
