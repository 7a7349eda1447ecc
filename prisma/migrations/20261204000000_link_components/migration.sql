-- Linked accounts as connected components (src/features/facts/link-components.ts): which
-- component each linked account is in, per link scope; each link value's accounts and hubs; and the
-- usage rollups of each component, written by ingestion beside the account rollups and merged by
-- the same compactor statements. An account without a link_component row is alone in its scope.

-- A link key row is "united" once its account has been joined with the other accounts of its value.
ALTER TABLE "account_link_key" ADD COLUMN "united" BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX "account_link_key_not_united_idx" ON "account_link_key"("kind", "value", "account_id") WHERE NOT "united";

CREATE TABLE "link_component" (
    "scope" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "component" TEXT NOT NULL,

    CONSTRAINT "link_component_pkey" PRIMARY KEY ("account_id", "scope")
);
CREATE INDEX "link_component_component_idx" ON "link_component"("component");

-- How many accounts each link value has joined, and whether it was found to be a hub.
CREATE TABLE "link_value" (
    "kind" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "users" INTEGER NOT NULL,
    "hub" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "link_value_pkey" PRIMARY KEY ("kind", "value")
);

CREATE TABLE "component_minute" (
    "id" BIGSERIAL NOT NULL,
    "account_id" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "requests" INTEGER NOT NULL,
    "input_tokens" BIGINT NOT NULL,
    "output_tokens" BIGINT NOT NULL,
    "values" JSONB NOT NULL,
    "signals" JSONB NOT NULL,
    "compacted" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "component_minute_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "component_minute_account_id_bucket_idx" ON "component_minute"("account_id", "bucket");
CREATE INDEX "component_minute_uncompacted_idx" ON "component_minute"("account_id", "bucket") WHERE NOT "compacted";

CREATE TABLE "component_hour" (
    "id" BIGSERIAL NOT NULL,
    "account_id" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "requests" INTEGER NOT NULL,
    "input_tokens" BIGINT NOT NULL,
    "output_tokens" BIGINT NOT NULL,
    "values" JSONB NOT NULL,
    "signals" JSONB NOT NULL,
    "peak_minute_requests" INTEGER NOT NULL,
    "compacted" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "component_hour_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "component_hour_account_id_bucket_idx" ON "component_hour"("account_id", "bucket");
CREATE INDEX "component_hour_uncompacted_idx" ON "component_hour"("account_id", "bucket") WHERE NOT "compacted";

CREATE TABLE "component_day" (
    "id" BIGSERIAL NOT NULL,
    "account_id" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "requests" BIGINT NOT NULL,
    "input_tokens" BIGINT NOT NULL,
    "output_tokens" BIGINT NOT NULL,
    "values" JSONB NOT NULL,
    "signals" JSONB NOT NULL,
    "peak_minute_requests" INTEGER NOT NULL,
    "compacted" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "component_day_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "component_day_account_id_bucket_idx" ON "component_day"("account_id", "bucket");
CREATE INDEX "component_day_uncompacted_idx" ON "component_day"("account_id", "bucket") WHERE NOT "compacted";
