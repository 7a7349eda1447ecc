// What /healthz and /readyz answer, as zod schemas (health-router.ts builds the answers; the
// OpenAPI document publishes these; test/openapi.e2e.test.ts holds real answers to them).
// Readiness lists the parts this process runs, so its optional parts are not strict.
import { z } from "zod";

/** GET /healthz: the process answers. */
export const healthSchema = z.strictObject({ status: z.literal("ok") });
export type Health = z.infer<typeof healthSchema>;

const count = z.number().int();

/** GET /readyz: 200 when ready, 503 (with `not-ready`) when not, or when the database is unreachable. */
export const readinessSchema = z.strictObject({
  status: z.enum(["ready", "not-ready"]),
  checks: z.strictObject({
    /** `ok`, or `unreachable: <why>`. */
    database: z.string(),
    migrations: z.strictObject({ applied: count, pending: z.array(z.string()) }).optional(),
  }),
  evaluation: z
    .strictObject({
      queueDepth: count,
      /** true: the queue holds at least queueDepth events (counting stops there). */
      queueDepthCapped: z.literal(true).optional(),
      oldestQueuedAgeMs: count,
      /** Dead-lettered events; `clauseguard evaluation retry-failed` requeues them. */
      failedEvents: count,
      /** The in-process worker's counters, when this process evaluates. */
      worker: z.looseObject({}).optional(),
    })
    .optional(),
  /** Admission control of POST /v1/events in this process. */
  ingest: z.looseObject({}).optional(),
  /** How long ago this process reloaded its enforcement answers. */
  enforcement: z.strictObject({ snapshotAgeMs: count.nullable() }).optional(),
});
export type Readiness = z.infer<typeof readinessSchema>;
