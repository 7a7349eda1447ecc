// How values read on screen: numbers with separators, times in the analyst's locale, facts named.
import type { Condition } from "./api";

export const fmtNumber = (v: unknown): string => {
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toLocaleString("en-US", { maximumFractionDigits: 3 });
  if (v === null || v === undefined) return "—";
  return typeof v === "string" ? v : JSON.stringify(v);
};

export const fmtTime = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" }) : "—");

const operators: Record<string, string> = {
  greaterThan: ">",
  greaterThanInclusive: "≥",
  lessThan: "<",
  lessThanInclusive: "≤",
  equal: "=",
  notEqual: "≠",
  in: "in",
  notIn: "not in",
  inList: "in",
  contains: "contains",
};
export const fmtOperator = (op: string): string => operators[op] ?? op;

/** `signalRate(reasoningRequest)`, `event.country`, `linkedAccounts(by any)`. */
export function factLabel(c: Pick<Condition, "fact" | "params" | "jsonPath">): string {
  const params = Object.entries(c.params ?? {})
    .map(([k, v]) => (k === "signal" ? String(v) : `${k} ${String(v)}`))
    .join(", ");
  const path = c.jsonPath ? c.jsonPath.replace(/^\$/, "") : "";
  return `${c.fact}${path}${params ? `(${params})` : ""}`;
}

/** Milliseconds of a rule window such as 30s, 15m, 24h, 7d. */
export function windowMs(window: string): number {
  const m = /^(\d+)([smhd])$/.exec(window);
  if (!m) return 86_400_000;
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
}

/** A datetime-local input's value (local time, minutes) and back to ISO. */
export const toLocalInput = (iso: string | undefined): string => {
  if (!iso) return "";
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
export const fromLocalInput = (v: string): string | undefined => (v ? new Date(v).toISOString() : undefined);
