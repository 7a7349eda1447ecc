// API key material: the key format, generation and hashing. Only the sha256 of the secret is stored.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const scopes = ["events:write", "accounts:write", "cases:read", "cases:write", "rules:read", "rules:write", "statements:read", "appeals:write", "admin"] as const;
export type Scope = (typeof scopes)[number];

/** `cg_<12-char id>_<secret>`: the id finds the stored hash; the secret is never stored. */
const keyPattern = /^cg_([a-z0-9]{12})_([A-Za-z0-9_-]{32,})$/;

export type GeneratedKey = { id: string; key: string; secretHash: string };

export function generateKey(): GeneratedKey {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const id = Array.from(randomBytes(12), (b) => alphabet[b % alphabet.length]).join("");
  const secret = randomBytes(32).toString("base64url");
  return { id, key: `cg_${id}_${secret}`, secretHash: hashSecret(secret) };
}

export function parseKey(key: string): { id: string; secret: string } | undefined {
  const m = keyPattern.exec(key);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `admin` holds every scope. */
export function hasScope(granted: readonly string[], needed: Scope): boolean {
  return granted.includes(needed) || granted.includes("admin");
}
