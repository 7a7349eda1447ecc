-- The enforcement snapshot (src/features/accounts/enforcement-snapshot.ts) reloads, every second in
-- every API process, the accounts whose status ever changed and the enforcements still holding
-- them: two index-only reads whose size is the enforced accounts', not the whole table's.
CREATE INDEX "account_status_changed_idx" ON "account"("id") INCLUDE ("status", "status_since") WHERE "status_since" IS NOT NULL;
CREATE INDEX "enforcement_holding_idx" ON "enforcement"("account_id", "created_at") INCLUDE ("case_id") WHERE "lifted_at" IS NULL;
