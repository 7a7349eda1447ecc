-- Which accounts each link value has joined (link-components.ts): a uniting pass learns which
-- stored link keys bring an account new to its value by inserting them here (ON CONFLICT DO
-- NOTHING), a probe of this primary key.
CREATE TABLE "link_member" (
    "kind" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,

    CONSTRAINT "link_member_pkey" PRIMARY KEY ("kind", "value", "account_id")
);
INSERT INTO "link_member" ("kind", "value", "account_id")
SELECT DISTINCT "kind", "value", "account_id" FROM "account_link_key" WHERE "united";

-- How far uniting passes have read account_link_key (by id), in place of a flag on every row:
-- setting the flag rewrote each link-key row and its four index entries, 20 s and more for a
-- pass over 180,000 keys. A pass reads past the mark only while no ingestion transaction is in
-- flight, so every id below the new mark is committed; the compactor merges only keys at or below it.
CREATE TABLE "link_progress" (
    "id" INTEGER NOT NULL,
    "last_key" BIGINT NOT NULL,

    CONSTRAINT "link_progress_pkey" PRIMARY KEY ("id")
);
INSERT INTO "link_progress" ("id", "last_key")
SELECT 1, coalesce((SELECT min("id") - 1 FROM "account_link_key" WHERE NOT "united"), (SELECT max("id") FROM "account_link_key"), 0);

DROP INDEX "account_link_key_not_united_idx";
ALTER TABLE "account_link_key" DROP COLUMN "united";
