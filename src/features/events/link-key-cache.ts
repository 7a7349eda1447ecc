// Link keys (a value an account used that can link it to others) are recorded per whole hour:
// the row for (kind, value, account, hour) says "used during that hour". Within one process a key
// already recorded for its hour is not written again, so a busy account costs one link-key row per
// value and hour rather than one per batch. Skipping is safe: rows only ever widen what is known.
import ipaddr from "ipaddr.js";
import type { UsageEventInput } from "./event-schemas";
import { type LinkKind, type LinkPolicy, defaultLinkPolicy } from "./link-policy";

export type LinkKeyRow = { kind: LinkKind; value: string; accountId: string; hour: number; cacheKey: string };

const hourMs = 3_600_000;

/** The /24 of an IPv4 address or the /48 of an IPv6 one (IPv4-mapped IPv6 counts as IPv4). */
export function ipPrefix(ip: string): string {
  let addr = ipaddr.parse(ip);
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  if (addr.kind() === "ipv4") {
    const o = (addr as ipaddr.IPv4).octets;
    return `${o[0]}.${o[1]}.${o[2]}.0/24`;
  }
  const parts = (addr as ipaddr.IPv6).parts;
  return `${parts.slice(0, 3).map((p) => p.toString(16)).join(":")}::/48`;
}

/**
 * One row per (kind, value, account, hour) of the batch, spanning the whole hour. An address's
 * prefix is a strong ipPrefix key, unless the policy marks its network as shared infrastructure
 * (its ipType or a named list): then a weak sharedIpPrefix key and, with a prompt template, the
 * corroborated sharedIpPrefixTemplate key ("<prefix> <template>") and, when the account's creation
 * day is known (`createdDayOf`: the provider's createdAt, YYYY-MM-DD), the sharedIpPrefixWave key
 * ("<prefix> <day>"); or nothing with `links: skip`.
 */
export function linkKeyRows(
  events: UsageEventInput[],
  policy: LinkPolicy = defaultLinkPolicy,
  createdDayOf: ReadonlyMap<string, string> = new Map(),
  shared = sharedNetworkTest(policy),
): LinkKeyRow[] {
  const rows = new Map<string, LinkKeyRow>();
  const add = (kind: LinkKind, value: string | null | undefined, accountId: string, hour: number) => {
    if (!value) return;
    const cacheKey = `${kind}|${hour}|${accountId}|${value}`;
    if (rows.has(cacheKey)) return;
    rows.set(cacheKey, { kind, value, accountId, hour, cacheKey });
  };
  for (const e of events) {
    const hour = Math.floor(Date.parse(e.occurredAt) / hourMs) * hourMs;
    add("paymentFingerprint", e.paymentFingerprint, e.accountId, hour);
    if (e.ip) {
      const prefix = ipPrefix(e.ip);
      const why = shared(e);
      if (!why) add("ipPrefix", prefix, e.accountId, hour);
      else if (policy.sharedLinks === "weak") {
        add("sharedIpPrefix", prefix, e.accountId, hour);
        if (e.promptTemplateHash) add("sharedIpPrefixTemplate", `${prefix} ${e.promptTemplateHash}`, e.accountId, hour);
        // Not on a listed network: those are institutions the provider knows (a campus signs up
        // together at the start of term).
        const wave = why === "ipType" ? createdDayOf.get(e.accountId) : undefined;
        if (wave) add("sharedIpPrefixWave", `${prefix} ${wave}`, e.accountId, hour);
      }
    }
    add("orgId", e.orgId, e.accountId, hour);
    add("promptTemplateHash", e.promptTemplateHash, e.accountId, hour);
  }
  return [...rows.values()];
}

/** The rows as the database stores them: each spans its whole hour. */
export function linkKeyRecords(rows: LinkKeyRow[]): string {
  return JSON.stringify(
    rows.map((r) => ({
      kind: r.kind,
      value: r.value,
      accountId: r.accountId,
      firstSeenAt: new Date(r.hour).toISOString(),
      lastSeenAt: new Date(r.hour + hourMs - 1).toISOString(),
    })),
  );
}

export type LinkKeyCache = { unseen(rows: LinkKeyRow[]): LinkKeyRow[]; remember(rows: LinkKeyRow[]): void };

/** Remembers written keys; forgets everything past `maxEntries` (forgetting only costs a rewrite). */
export function createLinkKeyCache(maxEntries = 200_000): LinkKeyCache {
  const seen = new Set<string>();
  return {
    unseen: (rows) => rows.filter((r) => !seen.has(r.cacheKey)),
    remember(rows) {
      if (seen.size + rows.length > maxEntries) seen.clear();
      for (const r of rows) seen.add(r.cacheKey);
    },
  };
}

export const noLinkKeyCache: LinkKeyCache = { unseen: (rows) => rows, remember: () => {} };

/**
 * Why an event's address is shared infrastructure under the policy: its ipType, or a listed
 * network; null when it is not. The test remembers each address's list lookup: make one per batch.
 */
export function sharedNetworkTest(policy: LinkPolicy): (e: UsageEventInput) => "ipType" | "list" | null {
  const listed = new Map<string, boolean>();
  return (e) => {
    if (!e.ip) return null;
    // A listed network first: an address in a list is the listed institution's whatever its ipType.
    let hit = listed.get(e.ip);
    if (hit === undefined) listed.set(e.ip, (hit = policy.networks.match(e.ip) !== null));
    if (hit) return "list";
    return e.ipType && policy.sharedIpTypes.has(e.ipType) ? "ipType" : null;
  };
}
