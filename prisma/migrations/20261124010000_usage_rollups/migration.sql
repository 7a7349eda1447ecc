-- CreateTable
CREATE TABLE "usage_minute" (
    "account_id" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "requests" INTEGER NOT NULL,
    "input_tokens" BIGINT NOT NULL,
    "output_tokens" BIGINT NOT NULL,

    CONSTRAINT "usage_minute_pkey" PRIMARY KEY ("account_id","bucket")
);

-- CreateTable
CREATE TABLE "usage_hour" (
    "account_id" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "requests" INTEGER NOT NULL,
    "input_tokens" BIGINT NOT NULL,
    "output_tokens" BIGINT NOT NULL,
    "peak_minute_requests" INTEGER NOT NULL,

    CONSTRAINT "usage_hour_pkey" PRIMARY KEY ("account_id","bucket")
);

-- CreateTable
CREATE TABLE "usage_value_minute" (
    "account_id" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "kind" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "requests" INTEGER NOT NULL,

    CONSTRAINT "usage_value_minute_pkey" PRIMARY KEY ("account_id","bucket","kind","value")
);

-- CreateTable
CREATE TABLE "usage_value_hour" (
    "account_id" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "kind" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "requests" INTEGER NOT NULL,

    CONSTRAINT "usage_value_hour_pkey" PRIMARY KEY ("account_id","bucket","kind","value")
);

-- CreateTable
CREATE TABLE "usage_signal_minute" (
    "account_id" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "signal" TEXT NOT NULL,
    "bin" SMALLINT NOT NULL,
    "requests" INTEGER NOT NULL,

    CONSTRAINT "usage_signal_minute_pkey" PRIMARY KEY ("account_id","bucket","signal","bin")
);

-- CreateTable
CREATE TABLE "usage_signal_hour" (
    "account_id" TEXT NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "signal" TEXT NOT NULL,
    "bin" SMALLINT NOT NULL,
    "requests" INTEGER NOT NULL,

    CONSTRAINT "usage_signal_hour_pkey" PRIMARY KEY ("account_id","bucket","signal","bin")
);

