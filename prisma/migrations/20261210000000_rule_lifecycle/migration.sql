-- Rule lifecycle (docs/rule-lifecycle.md): named lists, allow entries, snoozes, shadow runs, the
-- hits that open no case, and per-day hit and evaluation counters for rule quality.

CREATE TABLE "named_list" (
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "version" INTEGER NOT NULL DEFAULT 1,
    "size" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_by" TEXT NOT NULL,
    CONSTRAINT "named_list_pkey" PRIMARY KEY ("name")
);

CREATE TABLE "named_list_entry" (
    "list_name" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    CONSTRAINT "named_list_entry_pkey" PRIMARY KEY ("list_name", "value"),
    CONSTRAINT "named_list_entry_list_name_fkey" FOREIGN KEY ("list_name") REFERENCES "named_list"("name") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE "named_list_change" (
    "list_name" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "mode" TEXT NOT NULL,
    "added" INTEGER NOT NULL,
    "removed" INTEGER NOT NULL,
    "size" INTEGER NOT NULL,
    "actor" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sample" JSONB NOT NULL DEFAULT '{}',
    CONSTRAINT "named_list_change_pkey" PRIMARY KEY ("list_name", "version"),
    CONSTRAINT "named_list_change_list_name_fkey" FOREIGN KEY ("list_name") REFERENCES "named_list"("name") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE "allow_entry" (
    "id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "rule_id" TEXT,
    "reason" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),
    "revoked_by" TEXT,
    CONSTRAINT "allow_entry_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "allow_entry_kind_check" CHECK ("kind" IN ('accountId', 'paymentFingerprint', 'orgId'))
);
CREATE INDEX "allow_entry_kind_value_idx" ON "allow_entry"("kind", "value");

CREATE TABLE "rule_snooze" (
    "id" TEXT NOT NULL,
    "rule_id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "until" TIMESTAMPTZ(3) NOT NULL,
    "reason" TEXT NOT NULL,
    "case_id" TEXT,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "cancelled_at" TIMESTAMPTZ(3),
    "cancelled_by" TEXT,
    CONSTRAINT "rule_snooze_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "rule_snooze_account_id_rule_id_idx" ON "rule_snooze"("account_id", "rule_id");

CREATE TABLE "rule_shadow" (
    "id" TEXT NOT NULL,
    "rule_id" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "base_version" INTEGER,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "started_by" TEXT NOT NULL,
    "ends_at" TIMESTAMPTZ(3),
    "stopped_at" TIMESTAMPTZ(3),
    "stopped_by" TEXT,
    "outcome" TEXT,
    CONSTRAINT "rule_shadow_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "rule_shadow_rule_version_fkey" FOREIGN KEY ("rule_id", "version") REFERENCES "rule_version"("rule_id", "version") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "rule_shadow_rule_id_started_at_idx" ON "rule_shadow"("rule_id", "started_at" DESC);
-- One running shadow per rule (Prisma cannot express partial indexes).
CREATE UNIQUE INDEX "rule_shadow_running_idx" ON "rule_shadow"("rule_id") WHERE "stopped_at" IS NULL;

CREATE TABLE "side_hit" (
    "id" BIGSERIAL NOT NULL,
    "role" TEXT NOT NULL,
    "shadow_id" TEXT,
    "rule_id" TEXT NOT NULL,
    "rule_version" INTEGER NOT NULL,
    "account_id" TEXT NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "trigger_event_id" TEXT NOT NULL,
    "window" TEXT NOT NULL,
    "conditions" JSONB NOT NULL,
    "event_ids" TEXT[],
    "suppressed_by" JSONB,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "side_hit_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "side_hit_role_check" CHECK ("role" IN ('live', 'shadow'))
);
CREATE INDEX "side_hit_shadow_id_occurred_at_idx" ON "side_hit"("shadow_id", "occurred_at");
CREATE INDEX "side_hit_account_id_occurred_at_idx" ON "side_hit"("account_id", "occurred_at" DESC);
CREATE INDEX "side_hit_occurred_at_idx" ON "side_hit"("occurred_at");

CREATE TABLE "rule_hit_day" (
    "rule_id" TEXT NOT NULL,
    "rule_version" INTEGER NOT NULL,
    "day" DATE NOT NULL,
    "partition" SMALLINT NOT NULL,
    "hits" BIGINT NOT NULL DEFAULT 0,
    "suppressed" BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT "rule_hit_day_pkey" PRIMARY KEY ("rule_id", "rule_version", "day", "partition")
);
CREATE INDEX "rule_hit_day_day_idx" ON "rule_hit_day"("day");

CREATE TABLE "evaluation_day" (
    "day" DATE NOT NULL,
    "partition" SMALLINT NOT NULL,
    "events" BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT "evaluation_day_pkey" PRIMARY KEY ("day", "partition")
);

-- The version that opened a case (rule_version follows the newest hit): rule quality counts by it.
ALTER TABLE "violation_case" ADD COLUMN "opened_version" INTEGER;
UPDATE "violation_case" SET "opened_version" = "rule_version";
