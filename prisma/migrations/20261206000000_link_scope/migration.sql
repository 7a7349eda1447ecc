-- The link scopes whose components are kept (link-components.ts): "any", which every hit reads
-- for its linked accounts, and the scopes the rules name. A scope not kept yet is built from
-- link_member by the first uniting pass that is asked for it. Keeping every scope copied each
-- linked account's rollups once per scope: the default pack names only "any".
CREATE TABLE "link_scope" (
    "scope" TEXT NOT NULL,
    "built_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "link_scope_pkey" PRIMARY KEY ("scope")
);
-- Databases that kept every scope so far keep those they hold components of.
INSERT INTO "link_scope" ("scope") SELECT DISTINCT "scope" FROM "link_component";
