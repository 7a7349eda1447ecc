// Options several commands share: argument parsers (a bad value exits 2) and --url/--key for a running server.
import { type Command, InvalidArgumentError } from "commander";
import { loadConfig } from "../config";
import { type Scope, scopes } from "../features/auth/api-key";
import { createApiClient } from "./api-client";
import { OperatorError, exitCodes } from "./operator-error";

export function parseScopes(value: string): Scope[] {
  const list = value.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((s) => !(scopes as readonly string[]).includes(s));
  if (bad.length || list.length === 0) {
    throw new InvalidArgumentError(`unknown scope(s) ${bad.join(", ") || "(none given)"}; choose from ${scopes.join(", ")}`);
  }
  return list as Scope[];
}

export function parseDate(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime()) || !/\d{4}-\d{2}-\d{2}/.test(value)) throw new InvalidArgumentError("must be an ISO 8601 date-time");
  return d;
}

export function parseUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new InvalidArgumentError("must be an http:// or https:// URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new InvalidArgumentError("must be an http:// or https:// URL");
  return value.replace(/\/+$/, "");
}

export function parseBatchSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 5000) throw new InvalidArgumentError("must be a whole number from 1 to 5000");
  return n;
}

export type ServerOptions = { url?: string; key?: string };

/** Options of the commands that talk to a running server: its URL and an API key. */
export function serverOptions(cmd: Command): Command {
  return cmd
    .option("--url <url>", "the server (default: CLAUSEGUARD_URL, else http://127.0.0.1:$PORT, PORT defaulting to 8080)", parseUrl)
    .option("--key <key>", "an API key (default: CLAUSEGUARD_API_KEY, else CLAUSEGUARD_ADMIN_KEY)");
}

/** The client of the server that --url/--key (or their defaults from the environment) name. */
export function apiOf(opts: ServerOptions) {
  const url = opts.url ?? (process.env.CLAUSEGUARD_URL ? parseUrlOrExit(process.env.CLAUSEGUARD_URL) : `http://127.0.0.1:${loadConfig().port || 8080}`);
  const key = opts.key ?? process.env.CLAUSEGUARD_API_KEY ?? loadConfig().adminKey;
  if (!key) throw new OperatorError("no API key: pass --key, or set CLAUSEGUARD_API_KEY (or CLAUSEGUARD_ADMIN_KEY)", exitCodes.usage);
  return createApiClient(url, key);
}

function parseUrlOrExit(value: string): string {
  try {
    return parseUrl(value);
  } catch (err) {
    throw new OperatorError(`CLAUSEGUARD_URL: ${(err as Error).message}`, exitCodes.config);
  }
}
