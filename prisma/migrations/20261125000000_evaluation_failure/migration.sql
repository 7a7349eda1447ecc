-- CreateTable
CREATE TABLE "evaluation_failure" (
    "event_pk" BIGINT NOT NULL,
    "account_id" TEXT NOT NULL,
    "error" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "failed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "evaluation_failure_pkey" PRIMARY KEY ("event_pk")
);

