-- Evidence that outlives retention (docs/due-process.md#signed-evidence): before retention deletes
-- an event that a case's evidence names, it keeps the SHA-256 of the event's canonical JSON, so an
-- evidence bundle still commits to the exact event. The GIN index finds, for each expiring event,
-- whether any evidence names it.
CREATE TABLE "evidence_event_digest" (
    "event_id" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "digested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "evidence_event_digest_pkey" PRIMARY KEY ("event_id")
);

CREATE INDEX "case_evidence_event_ids_idx" ON "case_evidence" USING GIN ("event_ids");
