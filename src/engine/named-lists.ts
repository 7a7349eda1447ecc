// Named lists in rules: a condition `{ "operator": "inList", "value": { "list": "blocked-cards" } }`
// tests the fact against a list kept outside the rule document (src/features/lists). The rule is
// bound to a lookup when it is compiled: each `{ list }` value becomes a NamedListValue that asks
// the process's current copy of the list, a Set, so membership is O(1) and a new version of the
// list takes effect without recompiling the rule.
import { isPlainObject } from "./json-input";

export const listNamePattern = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const listNameMessage = "must be a list name: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 chars";
/** The operators that accept `{ list }` as their value. */
export const listOperators = ["inList", "notInList"] as const;

export type ListRef = { list: string };

/** Where a bound rule finds a list's values: the evaluation process's loaded lists (list-catalog.ts). */
export interface ListLookup {
  /** undefined: the list is not held (unknown, or not read yet), and a condition on it holds neither way. */
  has(list: string, value: string): boolean | undefined;
}

/** A bound `{ list }` value. Serializes back to `{ list }`, so evidence shows what the rule said. */
export class NamedListValue {
  constructor(
    readonly list: string,
    private readonly lookup: ListLookup,
  ) {}
  /**
   * Strings match as they are; a number or boolean fact matches its text; another fact is in no
   * list. undefined when the list is not held: inList and notInList are then both false.
   */
  has(factValue: unknown): boolean | undefined {
    if (typeof factValue === "string") return this.lookup.has(this.list, factValue);
    if (typeof factValue === "number" || typeof factValue === "boolean") return this.lookup.has(this.list, String(factValue));
    return this.lookup.has(this.list, "") === undefined ? undefined : false;
  }
  toJSON(): ListRef {
    return { list: this.list };
  }
}

export function isListRef(value: unknown): value is ListRef {
  return isPlainObject(value) && Object.keys(value).length === 1 && typeof value.list === "string";
}

/** A fault in a `{ list }` value (its shape and name; whether the list exists is the store's to say). */
export function listRefFault(value: unknown): string | undefined {
  if (!isPlainObject(value) || !("list" in value)) return undefined;
  const extra = Object.keys(value).filter((k) => k !== "list");
  if (extra.length) return `a list reference { "list": name } only (unknown key '${extra[0]}')`;
  if (typeof value.list !== "string" || !listNamePattern.test(value.list)) return `a list reference whose name ${listNameMessage}`;
  return undefined;
}

/** Every `{ list }` value of a condition tree, with the path of the value (conditions.all[0].value). */
export function listRefs(conditions: unknown, path = "conditions"): { list: string; path: string }[] {
  const out: { list: string; path: string }[] = [];
  const walk = (node: unknown, at: string) => {
    if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${at}[${i}]`));
    else if (isPlainObject(node)) {
      if (typeof node.fact === "string" && typeof node.operator === "string" && isListRef(node.value)) {
        out.push({ list: node.value.list, path: `${at}.value.list` });
        return;
      }
      for (const k of ["all", "any", "not"]) if (k in node) walk(node[k], `${at}.${k}`);
    }
  };
  walk(conditions, path);
  return out;
}

/** A copy of the condition tree whose `{ list }` values ask `lookup`; the tree given is left as it is. */
export function bindLists<T>(conditions: T, lookup: ListLookup): T {
  const bind = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(bind);
    if (!isPlainObject(node)) return node;
    if (typeof node.fact === "string" && typeof node.operator === "string") {
      return isListRef(node.value) ? { ...node, value: new NamedListValue(node.value.list, lookup) } : node;
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === "all" || k === "any" || k === "not" ? bind(v) : v]));
  };
  return bind(conditions) as T;
}
