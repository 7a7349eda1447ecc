-- Evaluation partitions (src/features/evaluation/partitions.ts): every account's tasks fall in one
-- of 64 partitions, and each partition is evaluated by one worker at a time, under a lease, so
-- that a worker may keep per-account state in memory and no two workers judge one account at once.
-- The partition is the first byte of md5(account_id), masked to 0..63: md5 is immutable and the
-- same in every PostgreSQL, so an account's partition never changes.
ALTER TABLE "evaluation_task"
    ADD COLUMN "partition" SMALLINT GENERATED ALWAYS AS ((get_byte(decode(md5("account_id"), 'hex'), 0) & 63)::smallint) STORED;

CREATE TABLE "evaluation_partition" (
    "id" SMALLINT NOT NULL,
    "owner" TEXT,
    "lease_until" TIMESTAMPTZ(3),
    -- Raised each time the partition changes hands.
    "epoch" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "evaluation_partition_pkey" PRIMARY KEY ("id")
);
INSERT INTO "evaluation_partition" ("id") SELECT generate_series(0, 63);

-- The evaluation workers alive (a heartbeat each lease third): partitions are shared among them.
CREATE TABLE "evaluation_worker" (
    "id" TEXT NOT NULL,
    "seen_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "evaluation_worker_pkey" PRIMARY KEY ("id")
);
