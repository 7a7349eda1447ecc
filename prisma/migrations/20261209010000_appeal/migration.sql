-- Appeals (docs/due-process.md): a holder contests the enforcement a statement of reasons told them
-- of. One appeal per statement; submitted -> under_review -> upheld | reversed, decided by someone
-- other than who enforced, before a deadline.
CREATE TABLE "appeal" (
    "id" TEXT NOT NULL,
    "statement_id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "case_id" TEXT NOT NULL,
    "enforcement_id" TEXT NOT NULL,
    "explanation" TEXT NOT NULL,
    "attachments" JSONB NOT NULL DEFAULT '[]',
    "status" TEXT NOT NULL DEFAULT 'submitted',
    "submitted_by" TEXT NOT NULL,
    "submitted_at" TIMESTAMPTZ(3) NOT NULL,
    "deadline_at" TIMESTAMPTZ(3) NOT NULL,
    "reviewer" TEXT,
    "decided_by" TEXT,
    "decided_at" TIMESTAMPTZ(3),
    "decision_note" TEXT,
    "case_outcome" TEXT,

    CONSTRAINT "appeal_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "appeal_status_check" CHECK ("status" IN ('submitted', 'under_review', 'upheld', 'reversed')),
    CONSTRAINT "appeal_case_outcome_check" CHECK ("case_outcome" IS NULL OR "case_outcome" IN ('dismissed', 'open', 'unchanged')),
    CONSTRAINT "appeal_statement_id_fkey" FOREIGN KEY ("statement_id") REFERENCES "statement_of_reasons"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "appeal_case_id_fkey" FOREIGN KEY ("case_id") REFERENCES "violation_case"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "appeal_enforcement_id_fkey" FOREIGN KEY ("enforcement_id") REFERENCES "enforcement"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- One appeal per statement: a second is refused with the first's id.
CREATE UNIQUE INDEX "appeal_statement_id_key" ON "appeal"("statement_id");
-- The queue: open appeals by deadline; the overdue count.
CREATE INDEX "appeal_status_deadline_at_id_idx" ON "appeal"("status", "deadline_at", "id");
CREATE INDEX "appeal_account_id_submitted_at_idx" ON "appeal"("account_id", "submitted_at" DESC);
CREATE INDEX "appeal_case_id_idx" ON "appeal"("case_id");
