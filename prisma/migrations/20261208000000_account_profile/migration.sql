-- What the provider says of an account (PUT /v1/accounts/:id, the bulk form, or optional event
-- fields): when it was created, its verification level, plan and org. Kept apart from `account`,
-- which holds what ClauseGuard saw (first and last seen): a profile may arrive before the account's
-- first event. Facts take the account's age from `created_at` when it is known.
CREATE TABLE "account_profile" (
    "account_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3),
    "verification" TEXT,
    "plan" TEXT,
    "org_id" TEXT,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "account_profile_pkey" PRIMARY KEY ("account_id")
);
