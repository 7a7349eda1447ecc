// The console's only way to the data: ClauseGuard's public HTTP API, with the analyst's key from
// session storage (never a URL, never a log line: it travels in the Authorization header only).
// The answers' types are the server's own, inferred from the zod schemas that /openapi.json
// publishes (src/features/*/*-views.ts; type-only imports, erased from the bundle); the statuses and
// severities are the case model's constants (src/features/cases/case-model.ts, no zod), bundled.
import type { FieldError } from "../../src/engine/json-input";

export { caseStatuses as statuses, severities, type CaseStatus as Status, type EnforcementAction, type Severity } from "../../src/features/cases/case-model";
export type { CaseCounts, CaseDetail, CasePage, CaseSummary, ConditionView as Condition, Evidence, TimelineEntry } from "../../src/features/cases/case-views";
export type { AccountView, UsagePoint, UsageSeries } from "../../src/features/accounts/account-views";
export type { EventPage, StoredEvent } from "../../src/features/events/event-views";
export type { BacktestResult, RulePage, RuleVersion, RuleVersionPage, RuleView } from "../../src/features/rules/rule-views";
export type { Promotion, QualityStats, QualityStatsPage, ShadowAccount, ShadowReport, ShadowView } from "../../src/features/rules/lifecycle-views";
export type { Statement, StatementPage } from "../../src/features/statements/statement-views";
export type { AppealCounts, AppealPage, AppealView } from "../../src/features/appeals/appeal-views";
export { appealStatuses, caseOutcomes } from "../../src/features/appeals/appeal-model";
export type { FieldError };

const keyItem = "clauseguard.apiKey";

export const session = {
  key: (): string | null => sessionStorage.getItem(keyItem),
  signIn: (key: string) => sessionStorage.setItem(keyItem, key),
  signOut: () => sessionStorage.removeItem(keyItem),
};

/** A refusal from the API: its problem+json detail, field errors and status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => {};
/** What to do when the API says the key is no good (401): the app signs out. */
export function whenUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

export async function api<T>(method: string, path: string, body?: unknown, key = session.key()): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json: unknown = text ? safeJson(text) : undefined;
  if (!res.ok) {
    const p = (json ?? {}) as { detail?: string; title?: string; errors?: FieldError[] };
    const error = new ApiError(res.status, p.detail ?? p.title ?? `${res.status} ${res.statusText}`, p.errors ?? []);
    if (res.status === 401 && key === session.key()) onUnauthorized();
    throw error;
  }
  return json as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 300) };
  }
}

/** A query string from the set values only. */
export function qs(params: Record<string, string | number | undefined | null | string[]>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    for (const one of [v].flat()) u.append(k, String(one));
  }
  const s = u.toString();
  return s ? `?${s}` : "";
}
