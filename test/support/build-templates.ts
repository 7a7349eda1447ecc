// Builds the migrated test templates (PGlite tarball, PostgreSQL template database) if missing.
import { ensureTemplates } from "./test-database";

ensureTemplates().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
