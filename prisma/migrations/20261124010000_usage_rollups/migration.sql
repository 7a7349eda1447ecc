-- AlterTable
ALTER TABLE "account_link_key" DROP CONSTRAINT "account_link_key_pkey",
ADD COLUMN     "compacted" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "id" BIGSERIAL NOT NULL,
ADD CONSTRAINT "account_link_key_pkey" PRIMARY KEY ("id");

-- CreateTable
CREATE TABLE "usage_minute" (
    "id" BIGSERIAL NOT NULL,
    "account_id" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "requests" INTEGER NOT NULL,
    "input_tokens" BIGINT NOT NULL,
    "output_tokens" BIGINT NOT NULL,
    "values" JSONB NOT NULL,
    "signals" JSONB NOT NULL,
    "compacted" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "usage_minute_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "usage_hour" (
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

    CONSTRAINT "usage_hour_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "usage_minute_account_id_bucket_idx" ON "usage_minute"("account_id", "bucket");

-- CreateIndex
CREATE INDEX "usage_hour_account_id_bucket_idx" ON "usage_hour"("account_id", "bucket");

-- CreateIndex
CREATE INDEX "account_link_key_kind_value_idx" ON "account_link_key"("kind", "value");


-- What the compactor looks for: keys with rows not merged yet (Prisma cannot express partial indexes).
CREATE INDEX "usage_minute_uncompacted_idx" ON "usage_minute"("account_id", "bucket") WHERE NOT "compacted";
CREATE INDEX "usage_hour_uncompacted_idx" ON "usage_hour"("account_id", "bucket") WHERE NOT "compacted";
CREATE INDEX "account_link_key_uncompacted_idx" ON "account_link_key"("kind", "value", "account_id") WHERE NOT "compacted";
