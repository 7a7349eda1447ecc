// The link policy: which link keys an event makes, of which kind and strength, and how many
// accounts a value may join before it is a hub. Read from the policy pack's `links/` folder
// (`policy.json` and named network lists `<name>.txt`), validated like rule files: every fault
// with its file and path or line. See docs/linking.md.
import fs from "node:fs";
import path from "node:path";
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { ipTypes } from "./event-model";

/**
 * Link kinds. Strong kinds are evidence of common control and make up the "any" scope the
 * cluster rules read; weak ones are kept (a scope of their own, the account view) but join no
 * cluster of "any".
 * - paymentFingerprint, orgId: strong.
 * - ipPrefix: the /24 (IPv4) or /48 (IPv6) of an address that is not shared infrastructure: strong.
 * - sharedIpPrefix: the prefix of an address the policy marks as shared infrastructure (its
 *   ipType, or a named network list): weak.
 * - sharedIpPrefixTemplate: a shared prefix together with the request's prompt template: the weak
 *   link corroborated by the same template on the same range, strong.
 * - sharedIpPrefixWave: a shared prefix together with the day the provider created the account
 *   (its creation wave), when that is known as the event is stored: corroborated, strong.
 * - promptTemplateHash: the template alone: weak.
 */
export const linkKinds = ["paymentFingerprint", "ipPrefix", "orgId", "promptTemplateHash", "sharedIpPrefix", "sharedIpPrefixTemplate", "sharedIpPrefixWave"] as const;
export type LinkKind = (typeof linkKinds)[number];
export const strongLinkKinds: readonly LinkKind[] = ["paymentFingerprint", "ipPrefix", "orgId", "sharedIpPrefixTemplate", "sharedIpPrefixWave"];

export const defaultHubLimit = 1000;
export const defaultSharedIpTypes = ["hosting", "cloud", "vpn", "proxy", "cgnat"] as const;
export const maxNetworkPrefixes = 1_000_000;
const listName = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const policySchema = z.strictObject({
  sharedNetworks: z
    .strictObject({
      /** ipType values whose addresses are shared infrastructure. */
      ipTypes: z.array(z.enum(ipTypes)).max(ipTypes.length).default([...defaultSharedIpTypes]),
      /** weak: a shared prefix makes a weak key (and a corroborated one with the template); skip: no prefix key at all. */
      links: z.enum(["weak", "skip"]).default("weak"),
    })
    .default({ ipTypes: [...defaultSharedIpTypes], links: "weak" }),
  /** A value used by more accounts than this (per kind) is a hub: it joins no one. */
  hubLimits: z
    .strictObject(Object.fromEntries(linkKinds.map((k) => [k, z.number().int().min(1).max(1_000_000).optional()])) as Record<LinkKind, z.ZodOptional<z.ZodNumber>>)
    .default({}),
});

export type HubLimits = Readonly<Record<LinkKind, number>>;

/** The same limit for every kind (tests use small ones). */
export const uniformHubLimits = (n: number): HubLimits => Object.fromEntries(linkKinds.map((k) => [k, Math.trunc(n)])) as Record<LinkKind, number>;
export const defaultHubLimits = uniformHubLimits(defaultHubLimit);

/** Named prefix lists, matched longest prefix first: which list (if any) holds an address. */
export class NetworkLists {
  private readonly v4 = new Map<number, Map<number, string>>();
  private readonly v6 = new Map<number, Map<string, string>>();
  private v4Lengths: number[] = [];
  private v6Lengths: number[] = [];
  size = 0;

  add(cidr: string, name: string): void {
    // ipaddr.js also takes classful, octal and hex IPv4 ("203.0.113/24", "010.1.2.0"): not what anyone means by a prefix.
    const slash = cidr.lastIndexOf("/");
    const address = slash === -1 ? cidr : cidr.slice(0, slash);
    if (!address.includes(":") && !ipaddr.IPv4.isValidFourPartDecimal(address)) throw new Error("an IPv4 address is four decimal parts, e.g. 203.0.113.0");
    const [addr, bits] = ipaddr.parseCIDR(cidr);
    const v4 = toV4(addr);
    if (v4 !== null) {
      const len = addr.kind() === "ipv6" ? bits - 96 : bits;
      if (len < 0) throw new Error("an IPv4-mapped prefix must be at least /96");
      const table = this.v4.get(len) ?? new Map<number, string>();
      this.v4.set(len, table);
      if (!table.has(mask4(v4, len))) this.size++;
      table.set(mask4(v4, len), table.get(mask4(v4, len)) ?? name);
      this.v4Lengths = [...this.v4.keys()].sort((a, b) => b - a);
    } else {
      const table = this.v6.get(bits) ?? new Map<string, string>();
      this.v6.set(bits, table);
      const key = mask6(addr as ipaddr.IPv6, bits);
      if (!table.has(key)) this.size++;
      table.set(key, table.get(key) ?? name);
      this.v6Lengths = [...this.v6.keys()].sort((a, b) => b - a);
    }
  }

  /** The name of the list holding `ip` (the most specific prefix's), or null. */
  match(ip: string): string | null {
    if (this.size === 0) return null;
    const addr = ipaddr.parse(ip);
    const v4 = toV4(addr);
    if (v4 !== null) {
      for (const len of this.v4Lengths) {
        const hit = this.v4.get(len)!.get(mask4(v4, len));
        if (hit) return hit;
      }
      return null;
    }
    for (const len of this.v6Lengths) {
      const hit = this.v6.get(len)!.get(mask6(addr as ipaddr.IPv6, len));
      if (hit) return hit;
    }
    return null;
  }
}

function toV4(addr: ipaddr.IPv4 | ipaddr.IPv6): number | null {
  let a = addr;
  if (a.kind() === "ipv6" && (a as ipaddr.IPv6).isIPv4MappedAddress()) a = (a as ipaddr.IPv6).toIPv4Address();
  if (a.kind() !== "ipv4") return null;
  const o = (a as ipaddr.IPv4).octets;
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}
const mask4 = (v: number, len: number) => (len === 0 ? 0 : (v >>> (32 - len)) >>> 0);
function mask6(addr: ipaddr.IPv6, len: number): string {
  let out = "";
  for (let i = 0, left = len; i < 8 && left > 0; i++, left -= 16) {
    const part = addr.parts[i]!;
    out += `${(left >= 16 ? part : part >> (16 - left)).toString(16)}:`;
  }
  return out;
}

export type LinkPolicy = {
  sharedIpTypes: ReadonlySet<string>;
  sharedLinks: "weak" | "skip";
  hubLimits: HubLimits;
  networks: NetworkLists;
  /** The named lists and how many prefixes each holds. */
  lists: { name: string; prefixes: number }[];
};

export function linkPolicyOf(doc: unknown = {}, networks = new NetworkLists(), lists: LinkPolicy["lists"] = []): LinkPolicy {
  const p = policySchema.parse(doc);
  const hubLimits = { ...defaultHubLimits };
  for (const k of linkKinds) if (p.hubLimits[k] !== undefined) hubLimits[k] = p.hubLimits[k]!;
  return { sharedIpTypes: new Set(p.sharedNetworks.ipTypes), sharedLinks: p.sharedNetworks.links, hubLimits, networks, lists };
}

/** The policy when the pack has no links/ folder: shared ipTypes weak, no lists, hub limit 1,000 for every kind. */
export const defaultLinkPolicy: LinkPolicy = linkPolicyOf();

export class LinkPolicyError extends Error {
  override name = "LinkPolicyError";
  constructor(readonly faults: { file: string; path: string; message: string }[]) {
    super(`invalid link policy:\n${faults.map((f) => `  ${f.file}${f.path ? ` at ${f.path}` : ""}: ${f.message}`).join("\n")}`);
  }
}

/**
 * The link policy of a policy pack folder: `<rulesDir>/links/policy.json` (optional) and every
 * `<rulesDir>/links/<name>.txt` as a named list of shared-infrastructure prefixes (one CIDR a line,
 * `#` starts a comment). Throws LinkPolicyError with every fault.
 */
export function loadLinkPolicy(rulesDir: string): LinkPolicy {
  const dir = path.join(rulesDir, "links");
  if (!fs.existsSync(dir)) return defaultLinkPolicy;
  const faults: LinkPolicyError["faults"] = [];
  const policyFile = path.join(dir, "policy.json");
  let doc: unknown = {};
  if (fs.existsSync(policyFile)) {
    try {
      doc = JSON.parse(fs.readFileSync(policyFile, "utf8"));
      const r = policySchema.safeParse(doc);
      if (!r.success) for (const i of r.error.issues) faults.push({ file: policyFile, path: i.path.join("."), message: i.message });
    } catch (err) {
      faults.push({ file: policyFile, path: "", message: `not valid JSON: ${(err as Error).message}` });
    }
  }
  const networks = new NetworkLists();
  const lists: LinkPolicy["lists"] = [];
  let full = false;
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith(".txt")).sort()) {
    const file = path.join(dir, name);
    const list = name.slice(0, -4);
    if (!listName.test(list)) {
      faults.push({ file, path: "", message: "a list's name (the file name without .txt) is lowercase letters, digits, '.', '_' and '-', at most 64" });
      continue;
    }
    const before = networks.size;
    fs.readFileSync(file, "utf8").split(/\r?\n/).forEach((raw, i) => {
      const line = raw.replace(/#.*/, "").trim();
      if (!line) return;
      if (networks.size >= maxNetworkPrefixes) {
        if (!full) faults.push({ file, path: `line ${i + 1}`, message: `the lists hold more than ${maxNetworkPrefixes} prefixes` });
        full = true;
        return;
      }
      try {
        networks.add(line.includes("/") ? line : `${line}/${line.includes(":") ? 128 : 32}`, list);
      } catch (err) {
        faults.push({ file, path: `line ${i + 1}`, message: `'${line.slice(0, 60)}' is not a CIDR prefix such as 203.0.113.0/24 or 2001:db8::/32 (${(err as Error).message})` });
      }
    });
    lists.push({ name: list, prefixes: networks.size - before });
  }
  if (faults.length) throw new LinkPolicyError(faults);
  return linkPolicyOf(doc, networks, lists);
}
