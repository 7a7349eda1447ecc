-- Indicators imported from a sharing partner (docs/due-process.md#indicator-exchange): STIX 2.1
-- indicators whose patterns are HMAC-SHA256 hashes of a value (an account id, a payment
-- fingerprint, an IP prefix, a prompt template hash), keyed with the secret this provider shares
-- with that partner. Re-importing an indicator (same source and STIX id) replaces it.
CREATE TABLE "shared_indicator" (
    "source" TEXT NOT NULL,
    "stix_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "value_hash" TEXT NOT NULL,
    "confidence" INTEGER,
    "valid_from" TIMESTAMPTZ(3) NOT NULL,
    "valid_until" TIMESTAMPTZ(3),
    "imported_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "shared_indicator_pkey" PRIMARY KEY ("source", "stix_id"),
    CONSTRAINT "shared_indicator_kind_check" CHECK ("kind" IN ('accountId', 'paymentFingerprint', 'ipPrefix', 'promptTemplateHash'))
);

CREATE INDEX "shared_indicator_source_kind_value_hash_idx" ON "shared_indicator"("source", "kind", "value_hash");
