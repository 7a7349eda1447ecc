-- Rule quality (src/features/rules/rule-quality.ts) reads the cases a rule opened in a period: by
-- opening time, through an index, not a scan of every case ever stored.
CREATE INDEX "violation_case_rule_id_created_at_idx" ON "violation_case"("rule_id", "created_at");
CREATE INDEX "violation_case_created_at_idx" ON "violation_case"("created_at");

-- The version that opened each case stored before opened_version existed: its timeline's
-- "opened" entry names it (actor rule:<id>@<version>); the first migration took the newest hit's.
UPDATE "violation_case" c SET "opened_version" = split_part(t."actor", '@', 2)::int
FROM "case_timeline_entry" t
WHERE t."case_id" = c."id" AND t."kind" = 'opened' AND t."actor" ~ '^rule:.+@[0-9]+$'
  AND c."opened_version" IS DISTINCT FROM split_part(t."actor", '@', 2)::int;
