-- CreateTable
CREATE TABLE "usage_day" (
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

    CONSTRAINT "usage_day_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "usage_day_account_id_bucket_idx" ON "usage_day"("account_id", "bucket");


-- What the compactor looks for: keys with rows not merged yet (Prisma cannot express partial indexes).
CREATE INDEX "usage_day_uncompacted_idx" ON "usage_day"("account_id", "bucket") WHERE NOT "compacted";

-- A day row holds exactly the merged hour rows of its day (src/features/facts/rollup-compactor.ts):
-- fold in the hour rows merged so far, one merged row per account and day. The compaction lock
-- keeps a compactor of the previous version from merging hour rows (without folding them) while
-- this runs; stop the previous version's workers before starting this one, for the same reason.
SELECT pg_advisory_xact_lock(4236936583016097351);
INSERT INTO "usage_day" ("account_id", "bucket", "requests", "input_tokens", "output_tokens", "values", "signals", "peak_minute_requests", "compacted")
SELECT t.account_id, t.bucket, t.requests, t.input_tokens, t.output_tokens, coalesce(v.m, '{}'), coalesce(s.m, '{}'), t.peak, true
FROM (SELECT account_id, date_bin('1 day', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, sum(requests) AS requests,
             sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, max(peak_minute_requests) AS peak
      FROM "usage_hour" WHERE compacted GROUP BY 1, 2) t
LEFT JOIN (SELECT account_id, bucket, jsonb_object_agg(k, n) AS m FROM (
             SELECT h.account_id, date_bin('1 day', h.bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, e.key AS k, sum(e.value::bigint) AS n
             FROM "usage_hour" h, LATERAL jsonb_each(h."values") AS e WHERE h.compacted GROUP BY 1, 2, 3) x
           GROUP BY 1, 2) v USING (account_id, bucket)
LEFT JOIN (SELECT account_id, bucket, jsonb_object_agg(k, n) AS m FROM (
             SELECT h.account_id, date_bin('1 day', h.bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, e.key AS k, sum(e.value::bigint) AS n
             FROM "usage_hour" h, LATERAL jsonb_each(h.signals) AS e WHERE h.compacted GROUP BY 1, 2, 3) x
           GROUP BY 1, 2) s USING (account_id, bucket);
