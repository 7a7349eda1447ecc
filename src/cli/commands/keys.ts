// `clauseguard keys create|list|revoke|generate`: API keys, in the configured database.
import type { Command } from "commander";
import { type Scope, generateKey, scopes } from "../../features/auth/api-key";
import { parseDate, parseScopes } from "../command-options";
import { withDatabase } from "../with-database";

export function registerKeysCommands(program: Command): void {
  const keys = program.command("keys").description("manage API keys");
  keys
    .command("create")
    .description("create an API key; the key is printed once")
    .requiredOption("--name <name>", "what the key is for")
    .requiredOption("--scopes <list>", `comma-separated: ${scopes.join(", ")}`, parseScopes)
    .option("--expires-at <date>", "ISO 8601 expiry", parseDate)
    .action(async (opts: { name: string; scopes: Scope[]; expiresAt?: Date }) => {
      const created = await withDatabase((k) => k.createKey({ name: opts.name, scopes: opts.scopes, expiresAt: opts.expiresAt }, { actor: "cli" }));
      process.stdout.write(`${JSON.stringify(created)}\n`);
    });
  keys
    .command("list")
    .description("list API keys (never their secrets)")
    .action(async () => {
      const list = await withDatabase((k) => k.listKeys());
      for (const key of list) process.stdout.write(`${JSON.stringify(key)}\n`);
    });
  keys
    .command("revoke <id>")
    .description("revoke an API key")
    .action(async (id: string) => {
      await withDatabase((k) => k.revokeKey(id, { actor: "cli" }));
      process.stdout.write(`revoked ${id}\n`);
    });
  keys
    .command("generate")
    .description("print a new key for CLAUSEGUARD_ADMIN_KEY without storing anything")
    .action(() => {
      process.stdout.write(`${generateKey().key}\n`);
    });
}
