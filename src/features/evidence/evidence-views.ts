// The signed evidence bundle (GET /v1/cases/:id/evidence-bundle) and the public keys
// (GET /v1/signing-keys), as zod schemas: the service builds these shapes, the OpenAPI document
// publishes them, and `clauseguard evidence verify` reads a bundle through the same schema.
import { z } from "zod";
import { caseSummarySchema, evidenceSchema } from "../cases/case-views";
import { storedEventSchema } from "../events/event-views";

const moment = z.iso.datetime();
export const bundleFormat = "clauseguard.evidence-bundle/v1";

export const signatureSchema = z.strictObject({
  algorithm: z.literal("Ed25519"),
  canonicalization: z.literal("RFC8785"),
  /** Which key of GET /v1/signing-keys signed it. */
  keyId: z.string(),
  /** base64url of the Ed25519 signature over the RFC 8785 canonical JSON of the bundle without `signature`. */
  value: z.string(),
});

export const evidenceBundleSchema = z.strictObject({
  format: z.literal(bundleFormat),
  generatedAt: moment,
  /** The case as lists show it, without who works it (assignee) and with the linked accounts only as hashes below. */
  case: caseSummarySchema.pick({ id: true, accountId: true, ruleId: true, ruleVersion: true, clause: true, severity: true, status: true, firstSeenAt: true, lastSeenAt: true, hitCount: true, createdAt: true }),
  /** The full document of every rule version the hits were judged with. */
  ruleVersions: z.array(z.strictObject({ version: z.number().int(), checksum: z.string(), document: z.record(z.string(), z.unknown()) })),
  /** The recorded hits, newest first: each condition with its fact value and result. */
  hits: z.array(evidenceSchema.extend({ id: z.string() })),
  /** The contributing events still stored, each with the SHA-256 of its canonical JSON. */
  events: z.array(z.strictObject({ sha256: z.string(), event: storedEventSchema })),
  /** Events retention removed: their SHA-256, kept when they were deleted. */
  eventDigests: z.array(z.strictObject({ eventId: z.string(), sha256: z.string() })),
  /** Events named by the evidence that are neither stored nor digested (none unless rows were removed by hand). */
  unavailableEventIds: z.array(z.string()),
  /** The accounts linked to the case's account when it was last hit, as keyed hashes: countable, and checkable by the provider only. */
  linkedAccounts: z.strictObject({ algorithm: z.literal("HMAC-SHA256"), hashes: z.array(z.string()) }),
  signature: signatureSchema,
});
export type EvidenceBundle = z.infer<typeof evidenceBundleSchema>;

export const signingKeySetSchema = z.strictObject({
  keys: z.array(
    z.strictObject({
      kty: z.literal("OKP"),
      crv: z.literal("Ed25519"),
      x: z.string(),
      kid: z.string(),
      use: z.literal("sig"),
      alg: z.literal("EdDSA"),
      status: z.enum(["current", "retired"]),
    }),
  ),
});
export type SigningKeySet = z.infer<typeof signingKeySetSchema>;
