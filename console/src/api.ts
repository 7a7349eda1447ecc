// The console's only way to the data: ClauseGuard's public HTTP API, with the analyst's key from
// session storage (never a URL, never a log line: it travels in the Authorization header only).
// The types are the API's answers as the console reads them (see /openapi.json).

const keyItem = "clauseguard.apiKey";

export const session = {
  key: (): string | null => sessionStorage.getItem(keyItem),
  signIn: (key: string) => sessionStorage.setItem(keyItem, key),
  signOut: () => sessionStorage.removeItem(keyItem),
};

export type FieldError = { path: string; message: string };

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

export type Page<T> = { items: T[]; nextCursor: string | null };

export const statuses = ["open", "investigating", "confirmed", "enforced", "dismissed", "resolved"] as const;
export type Status = (typeof statuses)[number];
export const severities = ["low", "medium", "high", "critical"] as const;
export type Severity = (typeof severities)[number];

export type CaseSummary = {
  id: string;
  accountId: string;
  ruleId: string;
  ruleVersion: number;
  clause: { ref: string; text: string };
  severity: Severity;
  status: Status;
  firstSeenAt: string;
  lastSeenAt: string;
  hitCount: number;
  assignee: string | null;
  linkedAccounts: string[];
  createdAt: string;
  activityAt: string;
};

export type Condition = {
  path: string;
  fact: string;
  params?: Record<string, unknown>;
  jsonPath?: string;
  operator: string;
  value: unknown;
  factValue: unknown;
  result: boolean | null;
};

export type Evidence = { ruleVersion: number; triggerEventId: string; occurredAt: string; window: string; conditions: Condition[]; eventIds: string[]; recordedAt: string };

export type TimelineEntry = { at: string; actor: string; kind: string; from: string | null; to: string | null; note: string | null };

export type CaseDetail = CaseSummary & {
  evidence: Evidence[];
  timeline: TimelineEntry[];
  allowedTransitions: { to: Status; noteRequired: boolean }[];
};

export type AccountView = {
  accountId: string;
  status: "active" | "restricted" | "suspended";
  statusSince: string | null;
  firstSeenAt: string;
  lastSeenAt: string;
  openCases: CaseSummary[];
};

export type UsagePoint = { hour: string; requests: number; inputTokens: number; outputTokens: number; signalRates: Record<string, number> };
export type UsageSeries = { accountId: string; from: string; to: string; signalThreshold: number; items: UsagePoint[] };

export type StoredEvent = {
  eventId: string;
  accountId: string;
  occurredAt: string;
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  country?: string | null;
  ip?: string | null;
  promptTemplateHash?: string | null;
  signals?: Record<string, number | boolean> | null;
};

export type RuleDocument = {
  id: string;
  name: string;
  description?: string;
  clause: { ref: string; text: string };
  severity: Severity;
  scope: string;
  window?: string;
  enabled?: boolean;
  recommendedAction?: string;
  conditions: unknown;
};
export type RuleView = { id: string; version: number; enabled: boolean; source: string; createdAt: string; updatedAt: string; document: RuleDocument };
export type RuleVersion = { version: number; current: boolean; createdAt: string; createdBy: string | null; document: RuleDocument };
export type BacktestResult = {
  accountsEvaluated: number;
  eventsEvaluated?: number;
  hits: { accountId: string; firstHitAt: string; hitCount: number; sampleEvidence: { triggerEventId: string; occurredAt: string; conditions: Condition[] } }[];
};
