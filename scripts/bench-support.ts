// What the benchmarks share: their synthetic usage events (deterministic for an index), argument
// checks, and a throw-away PostgreSQL database.
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { UsageEventInput } from "../src/features/events/event-schemas";

/** A whole-number option, or exit 2 naming it. */
export function wholeNumber(name: string, text: string | undefined, min = 0): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    console.error(`bench: --${name} must be a whole number >= ${min}, got '${text}'`);
    process.exit(2);
  }
  return n;
}

/** Creates an empty database next to `adminUrl`'s; drop() removes it. */
export async function freshPostgresDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `clauseguard_bench_${randomBytes(4).toString("hex")}`;
  const run = async (statement: string) => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(statement);
    } finally {
      await admin.end();
    }
  };
  await run(`CREATE DATABASE "${name}"`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

const models = ["frontier-large", "frontier-small", "embed-1"];
const countries = ["US", "NL", "DE", "IN", "BR", "JP", "GB", "FR"];
const uas = ["python-httpx/0.27", "node-fetch/3", "curl/8.5", "Mozilla/5.0"];

/**
 * A realistic mix: account activity is heavy-tailed (a few accounts send most requests), each
 * account uses a few IPs, countries and prompt templates, a third of events carry signals.
 */
export function makeEvent(i: number, accountId: string, atMs: number): UsageEventInput {
  const a = Number(accountId.replace(/\D/g, "")) || 0;
  return {
    eventId: `bench_${i}_${randomBytes(4).toString("hex")}`,
    occurredAt: new Date(atMs).toISOString(),
    accountId,
    orgId: `org_${a % 500}`,
    apiKeyId: `key_${a}_${i % 2}`,
    model: models[(a + (i % 7 === 0 ? 1 : 0)) % models.length]!,
    endpoint: "chat.completions",
    inputTokens: 200 + (i % 1800),
    outputTokens: 100 + ((i * 7) % 3900),
    ip: `198.${(a >> 8) & 255}.${a & 255}.${i % 3}`,
    ipType: a % 5 === 0 ? "hosting" : "residential",
    country: countries[(a + (i % 11 === 0 ? 1 : 0)) % countries.length],
    userAgent: uas[a % uas.length],
    paymentFingerprint: `pmfp_${a}`,
    promptTemplateHash: `tpl_${a % 97}_${i % 4}`,
    ...(i % 3 === 0 ? { signals: { reasoningTraceRequest: (i % 100) / 100, syntheticDataRequest: i % 2 === 0 } } : {}),
  };
}

/** Heavy-tailed account choice: account k is picked with probability falling off like a power law. */
export function pickAccount(i: number, accounts: number, mix: "heavy" | "uniform" = "heavy"): string {
  const r = ((i * 2654435761) % 2 ** 32) / 2 ** 32;
  return `acct_${Math.floor(accounts * (mix === "uniform" ? r : r ** 3))}`;
}

