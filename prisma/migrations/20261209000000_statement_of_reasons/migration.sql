-- Statements of reasons (docs/due-process.md): what an account holder is told when an enforcement
-- is placed on their account or lifted, or an appeal of it is decided. Written in the transaction
-- of the change and never changed afterwards: a trigger refuses UPDATE and DELETE.
CREATE TABLE "statement_of_reasons" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "enforcement_id" TEXT NOT NULL,
    "case_id" TEXT NOT NULL,
    "rule_id" TEXT NOT NULL,
    "rule_version" INTEGER NOT NULL,
    "action" TEXT NOT NULL,
    "account_status" TEXT NOT NULL,
    "effective_at" TIMESTAMPTZ(3) NOT NULL,
    "body" JSONB NOT NULL,
    "text" TEXT NOT NULL,
    "template" TEXT NOT NULL,
    "issued_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "statement_of_reasons_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "statement_of_reasons_kind_check" CHECK ("kind" IN ('enforcement', 'lifting', 'appeal_upheld')),
    CONSTRAINT "statement_of_reasons_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "account"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "statement_of_reasons_enforcement_id_fkey" FOREIGN KEY ("enforcement_id") REFERENCES "enforcement"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "statement_of_reasons_case_id_fkey" FOREIGN KEY ("case_id") REFERENCES "violation_case"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- An account's statements, newest first (GET /v1/accounts/:id/statements).
CREATE INDEX "statement_of_reasons_account_id_issued_at_id_idx" ON "statement_of_reasons"("account_id", "issued_at" DESC, "id" DESC);
CREATE INDEX "statement_of_reasons_enforcement_id_idx" ON "statement_of_reasons"("enforcement_id");

CREATE FUNCTION "statement_of_reasons_immutable"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'a statement of reasons is never changed or deleted (%)', OLD.id USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER "statement_of_reasons_immutable" BEFORE UPDATE OR DELETE ON "statement_of_reasons"
    FOR EACH ROW EXECUTE FUNCTION "statement_of_reasons_immutable"();
