import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { UsageEventInput } from "./event-schemas";
import { linkKeyRows } from "./link-key-cache";
import { LinkPolicyError, NetworkLists, defaultLinkPolicy, linkPolicyOf, loadLinkPolicy } from "./link-policy";

const event = (over: Partial<UsageEventInput>): UsageEventInput => ({
  eventId: "e1",
  occurredAt: "2026-11-20T10:15:00.000Z",
  accountId: "a1",
  model: "m",
  inputTokens: 1,
  outputTokens: 1,
  ...over,
});
const keysOf = (e: Partial<UsageEventInput>, policy = defaultLinkPolicy) => linkKeyRows([event(e)], policy).map((k) => `${k.kind}=${k.value}`).sort();

describe("network lists", () => {
  const lists = new NetworkLists();
  lists.add("203.0.113.0/24", "campus");
  lists.add("203.0.113.128/25", "campus-dorms");
  lists.add("198.51.100.7/32", "vpn-exit");
  lists.add("2001:db8:10::/44", "cloud-v6");
  lists.add("::ffff:192.0.2.0/120", "mapped");

  it("finds the most specific list that holds an address", () => {
    expect(lists.match("203.0.113.5")).toBe("campus");
    expect(lists.match("203.0.113.200")).toBe("campus-dorms");
    expect(lists.match("198.51.100.7")).toBe("vpn-exit");
    expect(lists.match("198.51.100.8")).toBeNull();
    expect(lists.match("203.0.114.1")).toBeNull();
  });

  it("matches IPv6 prefixes at any length, and IPv4-mapped addresses as IPv4", () => {
    expect(lists.match("2001:db8:1f:ffff::1")).toBe("cloud-v6");
    expect(lists.match("2001:db8:20::1")).toBeNull();
    expect(lists.match("::ffff:203.0.113.9")).toBe("campus");
    expect(lists.match("192.0.2.77")).toBe("mapped");
    expect(lists.size).toBe(5);
  });

  it("takes /0, which holds every address of its family", () => {
    const all = new NetworkLists();
    all.add("0.0.0.0/0", "everything");
    expect(all.match("8.8.8.8")).toBe("everything");
    expect(all.match("2001:db8::1")).toBeNull();
  });
});

describe("link keys under the link policy", () => {
  it("makes a strong ipPrefix key for an address that is not shared infrastructure", () => {
    expect(keysOf({ ip: "192.0.2.10", ipType: "residential", paymentFingerprint: "pf", orgId: "o" })).toEqual([
      "ipPrefix=192.0.2.0/24",
      "orgId=o",
      "paymentFingerprint=pf",
    ]);
    expect(keysOf({ ip: "192.0.2.10" })).toEqual(["ipPrefix=192.0.2.0/24"]);
  });

  it("makes a weak key for a shared ipType, and the corroborated key with the prompt template", () => {
    for (const ipType of ["hosting", "cloud", "vpn", "proxy", "cgnat"] as const) {
      expect(keysOf({ ip: "192.0.2.10", ipType })).toEqual(["sharedIpPrefix=192.0.2.0/24"]);
    }
    expect(keysOf({ ip: "192.0.2.10", ipType: "cloud", promptTemplateHash: "t1" })).toEqual([
      "promptTemplateHash=t1",
      "sharedIpPrefix=192.0.2.0/24",
      "sharedIpPrefixTemplate=192.0.2.0/24 t1",
    ]);
  });

  it("makes the creation-wave key for a shared address when the account's creation day is known", () => {
    const rows = linkKeyRows([event({ ip: "192.0.2.10", ipType: "cloud" }), event({ eventId: "e2", accountId: "a2", ip: "192.0.2.11", ipType: "residential" })], defaultLinkPolicy, new Map([["a1", "2026-11-18"], ["a2", "2026-11-18"]]));
    expect(rows.map((k) => `${k.accountId} ${k.kind}=${k.value}`).sort()).toEqual([
      "a1 sharedIpPrefix=192.0.2.0/24",
      "a1 sharedIpPrefixWave=192.0.2.0/24 2026-11-18",
      "a2 ipPrefix=192.0.2.0/24",
    ]);
  });

  it("treats an address in a named list as shared whatever its ipType, and skips shared prefixes when told to", () => {
    const lists = new NetworkLists();
    lists.add("192.0.2.0/25", "campus");
    const listed = linkPolicyOf({}, lists);
    expect(keysOf({ ip: "192.0.2.10", ipType: "residential" }, listed)).toEqual(["sharedIpPrefix=192.0.2.0/24"]);
    // A listed network makes no creation-wave key, whatever the ipType the gateway gave.
    for (const ipType of ["residential", "vpn"] as const) {
      expect(linkKeyRows([event({ ip: "192.0.2.10", ipType })], listed, new Map([["a1", "2026-11-18"]])).map((k) => k.kind)).toEqual(["sharedIpPrefix"]);
    }
    expect(keysOf({ ip: "192.0.2.200", ipType: "residential" }, listed)).toEqual(["ipPrefix=192.0.2.0/24"]);
    const skip = linkPolicyOf({ sharedNetworks: { links: "skip" } }, lists);
    expect(keysOf({ ip: "192.0.2.10", promptTemplateHash: "t1", paymentFingerprint: "pf" }, skip)).toEqual(["paymentFingerprint=pf", "promptTemplateHash=t1"]);
    const onlyVpn = linkPolicyOf({ sharedNetworks: { ipTypes: ["vpn"] } });
    expect(keysOf({ ip: "192.0.2.10", ipType: "hosting" }, onlyVpn)).toEqual(["ipPrefix=192.0.2.0/24"]);
  });

  it("takes hub limits per kind, 1,000 for those not named", () => {
    const p = linkPolicyOf({ hubLimits: { ipPrefix: 50, sharedIpPrefixTemplate: 200 } });
    expect(p.hubLimits).toMatchObject({ ipPrefix: 50, sharedIpPrefixTemplate: 200, paymentFingerprint: 1000, orgId: 1000 });
  });
});

describe("loading the link policy of a policy pack", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-links-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    fs.mkdirSync(path.join(dir, "links"), { recursive: true });
    fs.writeFileSync(path.join(dir, "links", name), text);
  };
  const faultsOf = () => {
    try {
      loadLinkPolicy(dir);
    } catch (err) {
      if (err instanceof LinkPolicyError) return err.faults.map((f) => `${path.basename(f.file)} ${f.path}: ${f.message}`);
      throw err;
    }
    return [];
  };

  it("is the default without a links/ folder", () => {
    expect(loadLinkPolicy(dir)).toBe(defaultLinkPolicy);
  });

  it("reads policy.json and every named list, with comments and bare addresses", () => {
    write("policy.json", JSON.stringify({ sharedNetworks: { ipTypes: ["cgnat"], links: "weak" }, hubLimits: { ipPrefix: 300 } }));
    write("campus.txt", "# the university's ranges\n203.0.113.0/24\n\n198.51.100.9   # the dorm gateway\n");
    write("cloud-a.txt", "2001:db8::/32\r\n");
    const p = loadLinkPolicy(dir);
    expect(p.lists).toEqual([
      { name: "campus", prefixes: 2 },
      { name: "cloud-a", prefixes: 1 },
    ]);
    expect([...p.sharedIpTypes]).toEqual(["cgnat"]);
    expect(p.hubLimits.ipPrefix).toBe(300);
    expect(p.networks.match("198.51.100.9")).toBe("campus");
    expect(p.networks.match("2001:db8:5::1")).toBe("cloud-a");
  });

  it("reports every fault with its file and path or line, and loads nothing", () => {
    write("policy.json", JSON.stringify({ sharedNetworks: { ipTypes: ["datacenter"], links: "drop" }, hubLimits: { ipPrefix: 0, phone: 3 }, extra: 1 }));
    write("campus.txt", "203.0.113.0/24\n203.0.113.0/33\nnot-an-address\n203.0.113/24\n010.1.2.0/24\n10\n");
    write("Bad Name.txt", "192.0.2.0/24\n");
    const faults = faultsOf();
    expect(faults).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^policy\.json sharedNetworks\.ipTypes\.0: /),
        expect.stringMatching(/^policy\.json sharedNetworks\.links: /),
        expect.stringMatching(/^policy\.json hubLimits\.ipPrefix: /),
        expect.stringMatching(/^policy\.json hubLimits: .*phone/),
        expect.stringMatching(/^policy\.json : .*extra/),
        expect.stringMatching(/^campus\.txt line 2: '203\.0\.113\.0\/33' is not a CIDR prefix/),
        expect.stringMatching(/^campus\.txt line 3: 'not-an-address' is not a CIDR prefix/),
        expect.stringMatching(/^campus\.txt line 4: '203\.0\.113\/24' is not a CIDR prefix .*four decimal parts/),
        expect.stringMatching(/^campus\.txt line 5: '010\.1\.2\.0\/24' is not a CIDR prefix/),
        expect.stringMatching(/^campus\.txt line 6: '10' is not a CIDR prefix/),
        expect.stringMatching(/^Bad Name\.txt : a list's name/),
      ]),
    );
    expect(faults).toHaveLength(11);
  });

  it("reports a policy.json that is not JSON", () => {
    write("policy.json", "{ sharedNetworks: ");
    expect(faultsOf()).toEqual([expect.stringMatching(/^policy\.json : not valid JSON/)]);
  });
});
