// Backtesting: replays stored events through a rule (a saved version or an unsaved document)
// without creating cases. Events stream from the database ordered by account and time; window
// facts come from in-memory sliding windows over that stream (exact, and relative to each event's
// time, as in live evaluation); the account and linked-account facts are read from the database.
import type { Database } from "../../db/database";
import { type WindowAggregateName, defaultNewModelDays } from "../../engine/fact-catalog";
import { sql } from "../../db/sql";
import { type EventFact, type FactSource, type RuleCompiler, type RuleEvaluator, maxEvidenceEvents } from "../../engine/evaluation";
import type { RuleDocument } from "../../engine/rule-schema";
import { windowNeeds } from "../../engine/window-needs";
import { createFactSource } from "../facts/fact-source";
import { type HubLimits, defaultHubLimits } from "../events/link-policy";
import { type StoredEventRow, eventFact, storedEventColumns, storedEventOf } from "../events/stored-event";
import { createFactLoader } from "../facts/fact-loader";
import { scopesFor, uniteComponents } from "../facts/link-components";
import type { BacktestHit, BacktestProgress, BacktestResult } from "./rule-views";
import { compileBound } from "../../engine/list-binding";
import { listRefs } from "../../engine/named-lists";
import { type ListCatalog, createListCatalog } from "../lists/list-catalog";
import { validationFailed } from "../../shared/errors";

const pageSize = 20_000;
const minuteMs = 60_000;

export type StreamedEvent = EventFact & { occurredAtMs: number; signals?: Record<string, number | boolean> };

const signalHolds = (v: unknown, threshold: number) => v === true || (typeof v === "number" && v >= threshold);

/** The events of one account in [at - size, at], with the aggregates the facts need, updated as the replay moves on. */
export class SlidingWindow {
  private readonly events: StreamedEvent[] = [];
  private head = 0;
  inputTokens = 0;
  outputTokens = 0;
  private readonly values = { model: new Map<string, number>(), ip: new Map<string, number>(), country: new Map<string, number>(), template: new Map<string, number>() };
  private readonly minutes = new Map<number, number>();
  private readonly signalCounts: number[];

  constructor(
    readonly size: number,
    private readonly signals: { signal: string; threshold: number }[],
  ) {
    this.signalCounts = signals.map(() => 0);
  }

  get requestCount(): number {
    return this.events.length - this.head;
  }

  add(e: StreamedEvent): void {
    this.events.push(e);
    this.apply(e, 1);
  }

  /** Drops the events before `at - size`. */
  advanceTo(at: number): void {
    const start = at - this.size;
    while (this.head < this.events.length && this.events[this.head]!.occurredAtMs < start) this.apply(this.events[this.head++]!, -1);
    if (this.head > 4096 && this.head * 2 > this.events.length) {
      this.events.splice(0, this.head);
      this.head = 0;
    }
  }

  private apply(e: StreamedEvent, d: 1 | -1): void {
    this.inputTokens += d * (e.inputTokens as number);
    this.outputTokens += d * (e.outputTokens as number);
    const bump = (m: Map<string | number, number>, k: string | number | undefined) => {
      if (k === undefined || k === null) return;
      const n = (m.get(k) ?? 0) + d;
      if (n === 0) m.delete(k);
      else m.set(k, n);
    };
    bump(this.values.model, e.model as string);
    bump(this.values.ip, e.ip as string | undefined);
    bump(this.values.country, e.country as string | undefined);
    bump(this.values.template, e.promptTemplateHash as string | undefined);
    bump(this.minutes as Map<string | number, number>, Math.floor(e.occurredAtMs / minuteMs));
    this.signals.forEach((s, i) => {
      if (signalHolds(e.signals?.[s.signal], s.threshold)) this.signalCounts[i]! += d;
    });
  }

  /** Requests per model in the window (newModelShare: the backtest's source weighs them by when each model was first seen). */
  modelRequests(): ReadonlyMap<string, number> {
    return this.values.model;
  }

  /**
   * indicatorMatches is read from the database (link keys and imported indicators), not from the
   * replayed events; newModelShare from modelRequests and the models' first sightings.
   */
  aggregate(name: Exclude<WindowAggregateName, "indicatorMatches" | "newModelShare">, signal?: string, threshold = 0.5): number {
    const n = this.requestCount;
    switch (name) {
      case "requestCount":
        return n;
      case "inputTokens":
        return this.inputTokens;
      case "outputTokens":
        return this.outputTokens;
      case "distinctModels":
        return this.values.model.size;
      case "distinctIps":
        return this.values.ip.size;
      case "distinctCountries":
        return this.values.country.size;
      case "distinctPromptTemplates":
        return this.values.template.size;
      case "topTemplateShare":
        return n ? Math.max(0, ...this.values.template.values()) / n : 0;
      case "peakRequestsPerMinute":
        return Math.max(0, ...this.minutes.values());
      case "signalRate": {
        const i = this.signals.findIndex((s) => s.signal === signal && s.threshold === threshold);
        return n && i >= 0 ? this.signalCounts[i]! / n : 0;
      }
    }
  }

  /** Newest first, as live evidence lists them. */
  newestIds(limit: number): string[] {
    const out: string[] = [];
    for (let i = this.events.length - 1; i >= this.head && out.length < limit; i--) out.push(this.events[i]!.eventId);
    return out;
  }
}

/** A row of the replay's cursor (stored-event.ts), with its time in ms. */
function rowToEvent(r: StoredEventRow): StreamedEvent {
  return { ...eventFact(storedEventOf(r)), occurredAtMs: r.occurred_at.getTime() };
}

export async function runBacktest(
  db: Database,
  request: { compiled: RuleEvaluator; version: number | null; from: Date; to: Date },
  options: { maxHits?: number; onProgress?: (p: BacktestProgress) => void; progressEveryMs?: number; hubLimits?: HubLimits; partners?: Record<string, string> } = {},
): Promise<BacktestResult> {
  const started = Date.now();
  // Linked facts read components as of now, with every stored link in them (link-components.ts).
  await uniteComponents(db, { scopes: scopesFor([request.compiled.rule]), hubLimits: options.hubLimits });
  const { compiled, from, to } = request;
  const rule = compiled.rule;
  const needs = windowNeeds(rule);
  // When each model was first seen (newModelShare), as live evaluation reads it: a small table, read once.
  const firstSeen = new Map(
    (await db.query<{ model: string; first_seen_at: Date }>(sql`SELECT model, first_seen_at FROM model_first_seen`)).map((r) => [r.model, new Date(r.first_seen_at).getTime()]),
  );
  const lookback = Math.max(...needs.windows);
  const maxHits = options.maxHits ?? 1000;
  const hits = new Map<string, BacktestHit>();
  let accountsHit = 0;
  let eventsRead = 0;
  let eventsEvaluated = 0;
  let accountsEvaluated = 0;
  let evaluationErrors = 0;
  let lastProgress = Date.now();

  let account: string | undefined;
  let windows: SlidingWindow[] = [];
  let pendingMinuteEvent: StreamedEvent | undefined;
  let evaluatedAccount = false;

  const sourceFor = (e: StreamedEvent): FactSource => {
    // The event fact as live evaluation sees it: the posted event, without the replay's own keys.
    const { occurredAtMs: _ms, ...event } = e;
    const fromDb = createFactSource(db, event, createFactLoader(db, { hubLimits: options.hubLimits, partners: options.partners }));
    const windowOf = (ms: number) => windows.find((w) => w.size === ms) ?? windows[windows.length - 1]!;
    const newModelShare = (q: { windowMs: number; maxAgeDays?: number }) => {
      const w = windowOf(q.windowMs);
      if (!w.requestCount) return 0;
      const since = e.occurredAtMs - (q.maxAgeDays ?? defaultNewModelDays) * 86_400_000;
      let n = 0;
      // A model missing from model_first_seen is not new, as live evaluation has it (fact-source.ts).
      for (const [model, count] of w.modelRequests()) if ((firstSeen.get(model) ?? Number.NEGATIVE_INFINITY) > since) n += count;
      return n / w.requestCount;
    };
    return {
      event,
      account: () => fromDb.account(),
      windowAggregate: async (name, q) =>
        name === "indicatorMatches" ? fromDb.windowAggregate(name, q) : name === "newModelShare" ? newModelShare(q) : windowOf(q.windowMs).aggregate(name, q.signal, q.threshold ?? 0.5),
      linkedFact: (name, q) => fromDb.linkedFact(name, q),
      contributingEventIds: async (ms, limit) => windowOf(ms).newestIds(Math.min(limit, maxEvidenceEvents)),
    };
  };

  const judge = async (e: StreamedEvent) => {
    eventsEvaluated++;
    evaluatedAccount = true;
    const r = await compiled.evaluate(sourceFor(e));
    if (r.outcome === "error") {
      evaluationErrors++;
      return;
    }
    if (r.outcome !== "hit") return;
    const known = hits.get(e.accountId);
    if (known) {
      known.hitCount++;
      known.lastHitAt = e.occurredAt;
      return;
    }
    accountsHit++;
    if (hits.size >= maxHits) return;
    hits.set(e.accountId, {
      accountId: e.accountId,
      firstHitAt: e.occurredAt,
      lastHitAt: e.occurredAt,
      hitCount: 1,
      sampleEvidence: { triggerEventId: e.eventId, occurredAt: e.occurredAt, window: r.window, conditions: r.conditions, eventIds: r.eventIds },
    });
  };

  // Account-scope rules are judged once per account and clock minute, at its last event: the
  // replay's stand-in for the live worker judging an account once per batch.
  const flushMinute = async () => {
    if (pendingMinuteEvent) await judge(pendingMinuteEvent);
    pendingMinuteEvent = undefined;
  };
  const finishAccount = async () => {
    await flushMinute();
    if (evaluatedAccount) accountsEvaluated++;
    evaluatedAccount = false;
  };

  const accountScope = rule.scope === "account";
  const fromMs = from.getTime();

  /** Takes one timestamp group of one account: into the windows, then judged if inside [from, to]. */
  const take = async (group: StreamedEvent[]) => {
    const e = group[0]!;
    if (e.accountId !== account) {
      if (account !== undefined) await finishAccount();
      account = e.accountId;
      windows = needs.windows.map((size) => new SlidingWindow(size, needs.signals));
    }
    // The minute before is judged before this group enters the windows: as of its own last event.
    if (pendingMinuteEvent && Math.floor(pendingMinuteEvent.occurredAtMs / minuteMs) !== Math.floor(e.occurredAtMs / minuteMs)) await flushMinute();
    for (const w of windows) {
      for (const g of group) w.add(g);
      w.advanceTo(e.occurredAtMs);
    }
    eventsRead += group.length;
    if (e.occurredAtMs < fromMs) return; // history before `from` only fills the windows
    if (!accountScope) {
      for (const g of group) await judge(g);
      return;
    }
    pendingMinuteEvent = group[group.length - 1];
  };

  // One pass over the range in (account, time) order: a cursor WITH HOLD is materialized once and
  // read in pages without keeping a transaction open (PGlite runs one transaction at a time).
  const cursorName = `backtest_${Math.random().toString(36).slice(2, 12)}`;
  const lower = new Date(fromMs - lookback).toISOString();
  await db.withSession(async (session) => {
    await session.exec(`DECLARE ${cursorName} NO SCROLL CURSOR WITH HOLD FOR
      SELECT ${storedEventColumns}
      FROM usage_event e
      WHERE e.occurred_at >= '${lower}'::timestamptz AND e.occurred_at <= '${to.toISOString()}'::timestamptz
      ORDER BY e.account_id, e.occurred_at, e.id`);
    try {
      let carried: StreamedEvent[] = [];
      for (;;) {
        const rows = await session.query<StoredEventRow>(`FETCH ${pageSize} FROM ${cursorName}`);
        const events = [...carried, ...rows.map(rowToEvent)];
        const last = rows.length < pageSize;
        let i = 0;
        while (i < events.length) {
          const e = events[i]!;
          let j = i + 1;
          while (j < events.length && events[j]!.accountId === e.accountId && events[j]!.occurredAtMs === e.occurredAtMs) j++;
          // The page's last group may continue in the next page: it waits for it.
          if (j === events.length && !last) break;
          await take(events.slice(i, j));
          i = j;
        }
        carried = events.slice(i);
        if (options.onProgress && Date.now() - lastProgress >= (options.progressEveryMs ?? 1000)) {
          lastProgress = Date.now();
          options.onProgress({ eventsRead, accountsEvaluated, accountsHit });
        }
        if (last) break;
      }
    } finally {
      await session.exec(`CLOSE ${cursorName}`);
    }
  });
  if (account !== undefined) await finishAccount();

  return {
    ruleId: rule.id,
    version: request.version,
    from: from.toISOString(),
    to: to.toISOString(),
    eventsEvaluated,
    accountsEvaluated,
    accountsHit,
    evaluationErrors,
    hits: [...hits.values()],
    truncated: accountsHit > hits.size,
    durationMs: Date.now() - started,
  };
}

export type BacktestRequest = { rule: RuleDocument; version: number | null; from: Date; to: Date };

/** `compile`: the same evaluator live evaluation uses (CLAUSEGUARD_EVALUATOR), so a backtest and the worker agree. */
/** `partners`: the sharing partners' secrets (indicatorMatches), as live evaluation has them. */
export function createBacktestService(db: Database, compile: RuleCompiler, hubLimits: HubLimits = defaultHubLimits, partners: Record<string, string> = {}) {
  return {
    async run({ rule, version, from, to }: BacktestRequest, options?: Parameters<typeof runBacktest>[2]) {
      // The named lists as they are now, read for this run (an unknown one is refused with its path).
      const refs = listRefs(rule.conditions);
      let lists: ListCatalog | undefined;
      if (refs.length) {
        lists = createListCatalog(db);
        await lists.sync(refs.map((r) => r.list));
        const held = lists.versions();
        const unknown = refs.filter((r) => !Object.hasOwn(held, r.list));
        if (unknown.length) throw validationFailed(unknown.map((r) => ({ path: `rule.${r.path}`, message: `unknown list '${r.list}'` })));
      }
      // An unsaved document is version 0 to the evaluator; the result says null.
      return runBacktest(db, { compiled: compileBound(compile, rule, version ?? 0, lists), version, from, to }, { hubLimits, partners, ...options });
    },
  };
}

export type BacktestService = ReturnType<typeof createBacktestService>;
