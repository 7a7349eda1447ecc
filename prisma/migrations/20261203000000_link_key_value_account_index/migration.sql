-- Linked-account reads first ask whether a link value is a hub (used by more accounts than the
-- hub limit within the window): with account_id in the key, the distinct accounts of one value
-- come out of the index in order, so that count stops after limit + 1 accounts instead of reading
-- every row of a value that a carrier-grade NAT shares among thousands. The index still covers
-- the join to the other accounts of the value. Same name as before; Prisma's schema describes it
-- as a plain (kind, value, account_id) index.
DROP INDEX "account_link_key_kind_value_idx";
CREATE INDEX "account_link_key_kind_value_idx" ON "account_link_key"("kind", "value", "account_id") INCLUDE ("first_seen_at", "last_seen_at");
