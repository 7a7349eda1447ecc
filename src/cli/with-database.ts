// withDatabase: a command's migrated database (keys, evaluation retry-failed), closed when the command ends.
import { loadConfig } from "../config";
import { type Database } from "../db/database";
import { createApiKeyService } from "../features/auth/api-key-service";
import { type Logger, createLogger } from "../shared/logger";
import { openMigratedDatabase } from "../server";

export async function withDatabase<T>(fn: (services: ReturnType<typeof createApiKeyService>, logger: Logger, db: Database) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
  const db = await openMigratedDatabase(config, logger);
  try {
    return await fn(createApiKeyService(db, logger), logger, db);
  } finally {
    await db.close();
  }
}
