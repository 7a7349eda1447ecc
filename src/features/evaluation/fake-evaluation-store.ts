// The evaluation store in memory, for the evaluation service's unit tests (Unleash's fake stores
// are the model): a queue with leases, cases decided by the same planCaseWrites as the SQL store,
// dead letters, and faults to inject into a commit. Not part of the product (excluded from dist/,
// and `npm run lint:deps` refuses an import of it from product code).
import type { AccountFact, EventFact, FactSource } from "../../engine/evaluation";
import { type Hit, type HitOutcome, planCaseWrites } from "../cases/case-repository";
import type { StoredEvent } from "../events/stored-event";
import type { ClaimedEvent } from "./claimed-batch";
import type { EvaluationStore, PendingHit } from "./evaluation-store";
import { type SideHit, type Suppression, routeHits } from "./hit-routing";

type Task = { event: ClaimedEvent; leaseToken?: string };
type FakeCase = { id: string; accountId: string; ruleId: string; status: "open" | "dismissed"; dismissedAt?: Date; hits: Hit[] };

export function fakeEvaluationStore() {
  const tasks = new Map<bigint, Task>();
  const cases: FakeCase[] = [];
  const deadLetters: { eventId: string; error: string }[] = [];
  const commits: { eventIds: string[]; ok: boolean }[] = [];
  const sideHits: SideHit[] = [];
  /** Suppressions in force: an allow entry or a snooze of (account, rule), or of an account for every rule (rule undefined). */
  const suppressions: { accountId: string; ruleId?: string; until: Date; s: Suppression }[] = [];
  let nextPk = 1n;
  let nextToken = 1;
  let nextCase = 1;
  /** Throws for a commit whose hits include one of these events (a fault in the data, as a database trigger would refuse it). */
  let failCommit: (pending: PendingHit[]) => Error | undefined = () => undefined;
  /** Runs as a commit starts: what another worker does meanwhile. */
  let beforeCommit: () => void = () => {};

  const account: AccountFact = { status: "active", firstSeenAt: "2026-11-01T00:00:00.000Z", createdAt: null, ageDays: 30, ageSource: "firstSeen", ageKnown: false, verification: null, plan: null, confirmedCases: 0 };

  const store: EvaluationStore = {
    async claim(size) {
      const token = `lease${nextToken++}`;
      const claimed = [...tasks.values()].filter((t) => t.leaseToken === undefined).slice(0, size);
      for (const t of claimed) t.leaseToken = token;
      const events = claimed.map((t) => t.event).sort((a, b) => a.occurredAtMs - b.occurredAtMs || (a.pk < b.pk ? -1 : 1));
      return { token, eventPks: events.map((e) => e.pk), events, partitions: [0] };
    },
    async minuteStates() {
      throw new Error("the fake store judges with the batch cadence only");
    },
    async uniteLinks() {},
    readsForBatch() {
      return {
        sourceOf: (event: EventFact): FactSource => ({
          event,
          account: async () => account,
          windowAggregate: async () => 0,
          linkedFact: async () => 0,
          contributingEventIds: async () => [event.eventId],
        }),
        cluster: async () => [],
      };
    },
    async deadLetter(batch, event, error) {
      const task = tasks.get(event.pk);
      if (task?.leaseToken !== batch.token) return false;
      tasks.delete(event.pk);
      deadLetters.push({ eventId: event.event.eventId, error });
      return true;
    },
    async commit(batch, pending, now) {
      beforeCommit();
      const fault = failCommit(pending);
      commits.push({ eventIds: batch.events.map((e) => e.event.eventId), ok: !fault });
      if (fault) throw fault;
      const owned = new Set(batch.eventPks.filter((pk) => tasks.get(pk)?.leaseToken === batch.token));
      for (const pk of owned) tasks.delete(pk);
      const routed = routeHits(
        pending.filter((p) => owned.has(p.eventPk)),
        (p) => suppressions.find((x) => x.accountId === p.hit.accountId && (x.ruleId === undefined || x.ruleId === p.hit.rule.id) && x.until > now)?.s,
      );
      sideHits.push(...routed.side);
      const hits = routed.toCases;
      const outcomes = new Map<Hit, HitOutcome>();
      const groups = new Map<string, Hit[]>();
      for (const h of hits) groups.set(`${h.accountId}\u0000${h.rule.id}`, [...(groups.get(`${h.accountId}\u0000${h.rule.id}`) ?? []), h]);
      for (const group of groups.values()) {
        const { accountId, rule } = group[0]!;
        const mine = cases.filter((c) => c.accountId === accountId && c.ruleId === rule.id);
        const active = mine.find((c) => c.status === "open");
        const dismissed = mine.filter((c) => c.status === "dismissed").at(-1);
        const sorted = [...group].sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime());
        const plan = planCaseWrites(sorted, { activeId: active?.id, dismissed: dismissed && { id: dismissed.id, dismissedAt: dismissed.dismissedAt! } }, () => `case_fake${nextCase++}`);
        for (const w of plan.writes) {
          if (w.kind === "open") cases.push({ id: w.caseId, accountId, ruleId: rule.id, status: "open", hits: [...w.hits] });
          else cases.find((c) => c.id === w.caseId)!.hits.push(...w.hits);
        }
        sorted.forEach((h, i) => outcomes.set(h, plan.outcomes[i]!));
      }
      return {
        owned,
        outcomes: hits.map((h) => outcomes.get(h)!),
        recorded: hits.length,
        suppressed: routed.suppressed.length,
        shadowHits: routed.side.filter((x) => x.role === "shadow").length,
      };
    },
  };

  return {
    store,
    /** Stores events and queues them, as ingestion does. */
    enqueue(events: Omit<StoredEvent, "receivedAt">[]): void {
      for (const e of events) {
        const pk = nextPk++;
        const occurredAtMs = Date.parse(e.occurredAt);
        tasks.set(pk, { event: { pk, accountId: e.accountId, occurredAtMs, receivedAtMs: occurredAtMs, event: { ...e, receivedAt: e.occurredAt } } });
      }
    },
    /** Another worker takes over these events' tasks (its own lease): this worker's commit no longer owns them. */
    steal(eventIds: string[]): void {
      for (const t of tasks.values()) if (eventIds.includes(t.event.event.eventId)) t.leaseToken = "another-worker";
    },
    failCommitWhen(f: (pending: PendingHit[]) => Error | undefined): void {
      failCommit = f;
    },
    beforeCommit(f: () => void): void {
      beforeCommit = f;
    },
    /** An allow entry (ruleId undefined: every rule) or a snooze, in force until `until`. */
    suppress(accountId: string, ruleId: string | undefined, until: Date, s: Suppression): void {
      suppressions.push({ accountId, ruleId, until, s });
    },
    sideHits: () => sideHits.map((x) => ({ role: x.role, shadowId: x.shadowId, ruleId: x.hit.rule.id, version: x.hit.version, eventId: x.hit.triggerEventId, suppressedBy: x.suppressedBy?.id ?? null })),
    dismiss(caseId: string, at: Date): void {
      const c = cases.find((x) => x.id === caseId)!;
      c.status = "dismissed";
      c.dismissedAt = at;
    },
    queued: () => [...tasks.values()].map((t) => ({ eventId: t.event.event.eventId, leased: t.leaseToken !== undefined })),
    cases: () => cases.map((c) => ({ id: c.id, accountId: c.accountId, ruleId: c.ruleId, status: c.status, hits: c.hits.map((h) => h.triggerEventId) })),
    deadLetters: () => [...deadLetters],
    commits: () => [...commits],
  };
}

export type FakeEvaluationStore = ReturnType<typeof fakeEvaluationStore>;
