// What the evaluation service reads and writes, behind one interface: the SQL store below on the
// database, and a fake in memory for the service's unit tests (fake-evaluation-store.ts), so that
// its decisions (what a batch judges, how a failing batch is split, which event is dead-lettered,
// which hits reach cases) are tested without a database.
import type { Database } from "../../db/database";
import { sql } from "../../db/sql";
import type { FactSource, EventFact } from "../../engine/evaluation";
import type { LinkBy } from "../../engine/fact-catalog";
import { type HitOutcome, recordHits } from "../cases/case-repository";
import { type HubLimits, defaultHubLimits } from "../events/link-policy";
import { createFactLoader } from "../facts/fact-loader";
import { createFactSource } from "../facts/fact-source";
import { uniteComponents } from "../facts/link-components";
import type { WebhookOutbox } from "../webhooks/webhook-outbox";
import type { MinuteGroup, MinuteState } from "./account-minutes";
import type { ClaimedBatch, ClaimedEvent } from "./claimed-batch";
import { claimBatch, completeBatch, deadLetter, minuteStates } from "./evaluation-queue";
import type { PartitionLeases } from "./partitions";

/** The fact reads of one batch: its judgements share them (fact-loader.ts batches them into few statements). */
export type BatchReads = {
  sourceOf(event: EventFact): FactSource;
  /** The accounts of the account's cluster (its "any" component), sorted by id; empty when it has none. */
  cluster(accountId: string): Promise<string[]>;
};

export type { PendingHit } from "./hit-routing";
import { type PendingHit, routeHits } from "./hit-routing";
import { countEvaluation, findSuppressions, recordSideHits } from "./hit-ledger";

export type CommitResult = {
  /** The batch's events whose tasks this commit completed (others were lost to another worker's lease or partition). */
  owned: Set<bigint>;
  outcomes: HitOutcome[];
  /** Live hits recorded in cases: those of owned events not suppressed. */
  recorded: number;
  /** Live hits an allow entry or a snooze suppressed. */
  suppressed: number;
  /** Shadow versions' would-be hits. */
  shadowHits: number;
};

export interface EvaluationStore {
  /** Leases up to `size` due tasks (of these partitions, or all) and returns their events in time order. */
  claim(size: number, leaseMs: number, partitions?: readonly number[]): Promise<ClaimedBatch>;
  /** For the minute cadence (account-minutes.ts). */
  minuteStates(groups: MinuteGroup[]): Promise<MinuteState[]>;
  /** Joins the links stored so far into components, in these link scopes, before a batch is judged. */
  uniteLinks(scopes: readonly LinkBy[]): Promise<void>;
  readsForBatch(): BatchReads;
  /** Takes one event out of the queue with why it failed; false when the lease was lost meanwhile. */
  deadLetter(batch: ClaimedBatch, event: ClaimedEvent, error: string): Promise<boolean>;
  /**
   * One transaction: hold the worker's partitions (given `leases`), complete the batch's tasks
   * this lease still owns, and record the hits of those events in cases.
   */
  commit(batch: ClaimedBatch, pending: PendingHit[], now: Date, leases?: PartitionLeases): Promise<CommitResult>;
}

/** `partners`: the sharing partners' secrets, for indicatorMatches. */
export function sqlEvaluationStore(db: Database, opts: { hubLimits?: HubLimits; outbox?: WebhookOutbox; partners?: Record<string, string> } = {}): EvaluationStore {
  const hubLimits = opts.hubLimits ?? defaultHubLimits;
  return {
    claim: (size, leaseMs, partitions) => claimBatch(db, size, leaseMs, partitions),
    minuteStates: (groups) => minuteStates(db, groups),
    uniteLinks: async (scopes) => {
      await uniteComponents(db, { scopes, hubLimits });
    },
    readsForBatch() {
      const loader = createFactLoader(db, { hubLimits, partners: opts.partners });
      return {
        sourceOf: (event) => createFactSource(db, event, loader),
        async cluster(accountId) {
          const component = await loader.component.load({ accountId, scope: "any" });
          return component === null ? [] : (await loader.componentView.load(component)).members;
        },
      };
    },
    deadLetter: (batch, event, error) => deadLetter(db, batch, event, error),
    // On the driver, as ingestion: a fixed number of statements whatever the batch holds.
    commit: (batch, pending, now, leases) =>
      db.transaction(async (tx) => {
        // The worker's partitions, locked until this commits: a take-over waits for it, or came first and wins.
        const held = leases ? await leases.hold(tx, batch.partitions) : undefined;
        const owned = await completeBatch(tx, batch, held);
        const accounts = [...new Set(pending.map((p) => p.hit.accountId))];
        if (accounts.length) {
          // Case writes for one account are serialized across workers; taking the locks in one order avoids deadlocks.
          await tx.query(sql`
            SELECT count(*)::int AS n FROM (
              SELECT pg_advisory_xact_lock(1, hashtext(a)) FROM (SELECT a FROM unnest(${accounts}::text[]) a ORDER BY a) sorted) locked`);
        }
        const mine = pending.filter((p) => owned.has(p.eventPk));
        const suppressions = await findSuppressions(tx, mine, now);
        const routed = routeHits(mine, (p) => suppressions.get(p));
        const outcomes = await recordHits(tx, routed.toCases, now, opts.outbox);
        await recordSideHits(tx, routed.side, now);
        await countEvaluation(tx, batch.events.filter((e) => owned.has(e.pk)), routed.toCases, routed.suppressed);
        return { owned, outcomes, recorded: routed.toCases.length, suppressed: routed.suppressed.length, shadowHits: routed.side.filter((s) => s.role === "shadow").length };
      }),
  };
}
