-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "account_status" AS ENUM ('active', 'restricted', 'suspended');

-- CreateEnum
CREATE TYPE "severity" AS ENUM ('low', 'medium', 'high', 'critical');

-- CreateEnum
CREATE TYPE "case_status" AS ENUM ('open', 'investigating', 'confirmed', 'enforced', 'dismissed', 'resolved');

-- CreateEnum
CREATE TYPE "enforcement_action" AS ENUM ('restrict', 'suspend');

-- CreateTable
CREATE TABLE "account" (
    "id" TEXT NOT NULL,
    "org_id" TEXT,
    "status" "account_status" NOT NULL DEFAULT 'active',
    "status_since" TIMESTAMPTZ(3),
    "first_seen_at" TIMESTAMPTZ(3) NOT NULL,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "account_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "usage_event" (
    "id" BIGSERIAL NOT NULL,
    "event_id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "org_id" TEXT,
    "api_key_id" TEXT,
    "model" TEXT NOT NULL,
    "endpoint" TEXT,
    "input_tokens" INTEGER NOT NULL,
    "output_tokens" INTEGER NOT NULL,
    "end_user_id" TEXT,
    "ip" TEXT,
    "ip_prefix" TEXT,
    "ip_type" TEXT,
    "country" CHAR(2),
    "asn" BIGINT,
    "user_agent" TEXT,
    "payment_fingerprint" TEXT,
    "prompt_template_hash" TEXT,
    "signals" JSONB,
    "attributes" JSONB,

    CONSTRAINT "usage_event_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "account_link_key" (
    "kind" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "first_seen_at" TIMESTAMPTZ(3) NOT NULL,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "account_link_key_pkey" PRIMARY KEY ("kind","value","account_id")
);

-- CreateTable
CREATE TABLE "evaluation_task" (
    "event_pk" BIGINT NOT NULL,
    "account_id" TEXT NOT NULL,
    "enqueued_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "leased_until" TIMESTAMPTZ(3),
    "lease_token" TEXT,

    CONSTRAINT "evaluation_task_pkey" PRIMARY KEY ("event_pk")
);

-- CreateTable
CREATE TABLE "rule" (
    "id" TEXT NOT NULL,
    "current_version" INTEGER NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "source" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "rule_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "rule_version" (
    "rule_id" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "document" JSONB NOT NULL,
    "checksum" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT NOT NULL,

    CONSTRAINT "rule_version_pkey" PRIMARY KEY ("rule_id","version")
);

-- CreateTable
CREATE TABLE "violation_case" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "rule_id" TEXT NOT NULL,
    "rule_version" INTEGER NOT NULL,
    "clause_ref" TEXT NOT NULL,
    "clause_text" TEXT NOT NULL,
    "severity" "severity" NOT NULL,
    "status" "case_status" NOT NULL DEFAULT 'open',
    "first_seen_at" TIMESTAMPTZ(3) NOT NULL,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL,
    "hit_count" INTEGER NOT NULL DEFAULT 1,
    "assignee" TEXT,
    "linked_accounts" JSONB NOT NULL DEFAULT '[]',
    "dismissed_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "activity_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "violation_case_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "case_evidence" (
    "id" BIGSERIAL NOT NULL,
    "case_id" TEXT NOT NULL,
    "rule_version" INTEGER NOT NULL,
    "trigger_event_id" TEXT NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "window" TEXT NOT NULL,
    "conditions" JSONB NOT NULL,
    "event_ids" TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "case_evidence_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "case_timeline_entry" (
    "id" BIGSERIAL NOT NULL,
    "case_id" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "from_status" TEXT,
    "to_status" TEXT,
    "note" TEXT,
    "detail" JSONB,

    CONSTRAINT "case_timeline_entry_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "enforcement" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "case_id" TEXT NOT NULL,
    "action" "enforcement_action" NOT NULL,
    "actor" TEXT NOT NULL,
    "note" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lifted_at" TIMESTAMPTZ(3),
    "lifted_by" TEXT,

    CONSTRAINT "enforcement_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_key" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "scopes" TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT NOT NULL,
    "last_used_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_key_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "target_type" TEXT NOT NULL,
    "target_id" TEXT NOT NULL,
    "before" JSONB,
    "after" JSONB,
    "request_id" TEXT,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "account_org_id_idx" ON "account"("org_id");

-- CreateIndex
CREATE INDEX "account_status_idx" ON "account"("status");

-- CreateIndex
CREATE UNIQUE INDEX "usage_event_event_id_key" ON "usage_event"("event_id");

-- CreateIndex
CREATE INDEX "usage_event_account_id_occurred_at_idx" ON "usage_event"("account_id", "occurred_at");

-- CreateIndex
CREATE INDEX "usage_event_occurred_at_idx" ON "usage_event"("occurred_at");

-- CreateIndex
CREATE INDEX "account_link_key_account_id_kind_idx" ON "account_link_key"("account_id", "kind");

-- CreateIndex
CREATE INDEX "violation_case_activity_at_id_idx" ON "violation_case"("activity_at" DESC, "id");

-- CreateIndex
CREATE INDEX "violation_case_account_id_rule_id_idx" ON "violation_case"("account_id", "rule_id");

-- CreateIndex
CREATE INDEX "violation_case_status_activity_at_idx" ON "violation_case"("status", "activity_at" DESC);

-- CreateIndex
CREATE INDEX "violation_case_rule_id_activity_at_idx" ON "violation_case"("rule_id", "activity_at" DESC);

-- CreateIndex
CREATE INDEX "violation_case_assignee_activity_at_idx" ON "violation_case"("assignee", "activity_at" DESC);

-- CreateIndex
CREATE INDEX "case_evidence_case_id_id_idx" ON "case_evidence"("case_id", "id" DESC);

-- CreateIndex
CREATE INDEX "case_timeline_entry_case_id_id_idx" ON "case_timeline_entry"("case_id", "id");

-- CreateIndex
CREATE INDEX "enforcement_account_id_lifted_at_idx" ON "enforcement"("account_id", "lifted_at");

-- CreateIndex
CREATE INDEX "enforcement_case_id_idx" ON "enforcement"("case_id");

-- CreateIndex
CREATE INDEX "audit_log_at_idx" ON "audit_log"("at");

-- CreateIndex
CREATE INDEX "audit_log_actor_at_idx" ON "audit_log"("actor", "at");

-- CreateIndex
CREATE INDEX "audit_log_action_at_idx" ON "audit_log"("action", "at");

-- AddForeignKey
ALTER TABLE "usage_event" ADD CONSTRAINT "usage_event_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rule_version" ADD CONSTRAINT "rule_version_rule_id_fkey" FOREIGN KEY ("rule_id") REFERENCES "rule"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "violation_case" ADD CONSTRAINT "violation_case_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "violation_case" ADD CONSTRAINT "violation_case_rule_id_fkey" FOREIGN KEY ("rule_id") REFERENCES "rule"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "case_evidence" ADD CONSTRAINT "case_evidence_case_id_fkey" FOREIGN KEY ("case_id") REFERENCES "violation_case"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "case_timeline_entry" ADD CONSTRAINT "case_timeline_entry_case_id_fkey" FOREIGN KEY ("case_id") REFERENCES "violation_case"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "enforcement" ADD CONSTRAINT "enforcement_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "enforcement" ADD CONSTRAINT "enforcement_case_id_fkey" FOREIGN KEY ("case_id") REFERENCES "violation_case"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- One active case per (account, rule): a further hit adds to it instead of opening another.
-- Prisma cannot express a partial index, so it lives here only.
CREATE UNIQUE INDEX "violation_case_active_account_rule_key" ON "violation_case"("account_id", "rule_id")
    WHERE "status" IN ('open', 'investigating', 'confirmed', 'enforced');
