// Prisma CLI configuration: runs the CLI with no engine binary (see ../shared/STACK.md).
import path from "node:path";
import { defineConfig } from "prisma/config";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";

// The CLI downloads a query engine unless it sees a postgresql:// URL, even for commands that
// never connect (generate, validate, migrate diff). A placeholder keeps it engine-free.
if (!process.env.DATABASE_URL?.startsWith("postgres")) {
  process.env.DATABASE_URL = "postgresql://placeholder@127.0.0.1:5432/placeholder";
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: path.join("prisma", "schema.prisma"),
  async adapter() {
    return new PrismaPGlite(new PGlite());
  },
});
