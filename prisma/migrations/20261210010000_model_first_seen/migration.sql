-- newModelShare and the cluster facts on models and templates (docs/contract.md).

-- When each model was first seen: the earliest stored event of it, any account's. Ingestion keeps it
-- (event-repository.ts), writing only for a model new to it or seen earlier than it says.
CREATE TABLE "model_first_seen" (
    "model" TEXT NOT NULL,
    "first_seen_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "model_first_seen_pkey" PRIMARY KEY ("model")
);
INSERT INTO "model_first_seen" ("model", "first_seen_at") SELECT "model", min("occurred_at") FROM "usage_event" GROUP BY "model";

-- Component rollups now keep each cluster's requests per model and prompt template. The components
-- are rebuilt from their members' account rollups, which hold them: the next uniting pass builds each
-- scope the rules read from link_member (link-components.ts), as it builds a scope asked for the
-- first time. The compaction lock keeps a compactor off the rows while this runs.
SELECT pg_advisory_xact_lock(4236936583016097351);
DELETE FROM "link_component";
DELETE FROM "component_minute";
DELETE FROM "component_hour";
DELETE FROM "component_day";
DELETE FROM "link_scope";
