// `clauseguard migrate`: apply pending database migrations and exit.
import type { Command } from "commander";
import { loadConfig } from "../../config";
import { createLogger } from "../../shared/logger";
import { openMigratedDatabase } from "../../server";

export function registerMigrateCommands(program: Command): void {
  program
    .command("migrate")
    .description("apply pending database migrations and exit")
    .action(async () => {
      const config = loadConfig();
      const db = await openMigratedDatabase(config, createLogger(config.logLevel));
      await db.close();
      process.stdout.write("migrations are up to date\n");
    });
}
