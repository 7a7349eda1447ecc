// The usage event as the gateway posts it (SPEC.md "Usage event"): one zod schema that validates and types it.
import { z } from "zod";
import { profileCreatedAt, profileToken } from "../accounts/account-profile";
import { deeperThan, forbiddenKeys, storable, unstorableMessage, unusableParts } from "../../engine/json-input";
import { storableText } from "../../shared/parse";
import { ipTypes } from "./event-model";

const maxAttributesBytes = 4096;
const minOccurredAtMs = Date.parse("1970-01-01T00:00:00.000Z");
const maxOccurredAtMs = Date.parse("9999-12-31T23:59:59.999Z");

// PostgreSQL text and jsonb hold neither NUL nor an unpaired UTF-16 surrogate: such text is refused, not stored.
const text = storableText;
const optionalText = (max: number) => text(max).nullish();

/** Forbidden keys and text the database cannot hold, anywhere in the attributes, each a field error. */
function checkAttributes(value: unknown, ctx: z.RefinementCtx): void {
  for (const issue of unusableParts(value)) ctx.addIssue({ code: "custom", ...issue });
}

const signalName = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const signalsSchema = z
  .custom<Record<string, number | boolean>>((v) => v !== null && typeof v === "object" && !Array.isArray(v), "must be an object")
  .superRefine((obj, ctx) => {
    const entries = Object.entries(obj);
    if (entries.length > 64) ctx.addIssue({ code: "custom", message: "at most 64 signals" });
    for (const [k, v] of entries) {
      if (!signalName.test(k)) ctx.addIssue({ code: "custom", path: [k], message: "a signal name is letters, digits and _ (at most 64)" });
      else if (forbiddenKeys.has(k)) ctx.addIssue({ code: "custom", path: [k], message: `the key '${k}' is not allowed` });
      else if (!(typeof v === "boolean" || (typeof v === "number" && v >= 0 && v <= 1))) {
        ctx.addIssue({ code: "custom", path: [k], message: "a signal is a boolean or a number in [0, 1]" });
      }
    }
  });

const attributesSchema = z
  .custom<Record<string, unknown>>((v) => v !== null && typeof v === "object" && !Array.isArray(v), "must be an object")
  .superRefine((obj, ctx) => {
    // Each level takes at least 2 bytes serialized: a deeper document is over the limit, and is
    // not handed to JSON.stringify, whose recursion it could overflow.
    if (deeperThan(obj, maxAttributesBytes / 2)) {
      ctx.addIssue({ code: "custom", message: `is nested more than ${maxAttributesBytes / 2} levels deep; at most ${maxAttributesBytes} bytes serialized` });
      return;
    }
    const size = Buffer.byteLength(JSON.stringify(obj), "utf8");
    if (size > maxAttributesBytes) ctx.addIssue({ code: "custom", message: `is ${size} bytes serialized; at most ${maxAttributesBytes}` });
    else checkAttributes(obj, ctx);
  });

export const usageEventSchema = z.strictObject({
  eventId: text(128),
  occurredAt: z.iso
    .datetime({ offset: true, message: "must be an ISO 8601 date-time with a zone, e.g. 2026-11-24T19:00:00Z" })
    // Stored as UTC: any offset is taken, and the instant must be one the database and a JS Date both hold.
    .transform((s, ctx) => {
      const ms = Date.parse(s);
      if (!(ms >= minOccurredAtMs && ms <= maxOccurredAtMs)) {
        ctx.addIssue({ code: "custom", message: "must be a moment between the years 1970 and 9999" });
        return z.NEVER;
      }
      return new Date(ms).toISOString();
    }),
  accountId: text(128),
  orgId: optionalText(128),
  apiKeyId: optionalText(128),
  model: text(128),
  endpoint: optionalText(128),
  inputTokens: z.number().int().min(0).max(2_147_483_647),
  outputTokens: z.number().int().min(0).max(2_147_483_647),
  endUserId: optionalText(128),
  ip: z.union([z.ipv4(), z.ipv6()], { message: "must be an IPv4 or IPv6 address" }).nullish(),
  ipType: z.enum(ipTypes).nullish(),
  country: z.string().regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 code such as NL").nullish(),
  asn: z.number().int().min(0).max(4_294_967_295).nullish(),
  userAgent: z.string().max(512).refine(storable, unstorableMessage).nullish(),
  paymentFingerprint: optionalText(128),
  /** What the gateway knows of the account (account-profile.ts): stored on the account's profile, not on the event. */
  accountCreatedAt: profileCreatedAt.nullish(),
  accountVerification: profileToken.nullish(),
  accountPlan: profileToken.nullish(),
  promptTemplateHash: optionalText(128),
  signals: signalsSchema.nullish(),
  attributes: attributesSchema.nullish(),
});

export type UsageEventInput = z.infer<typeof usageEventSchema>;

/** A moment to query by (?from=, ?to=, a cursor): any ISO date-time with a zone that the database can compare with. */
export const queryMoment = z.iso
  .datetime({ offset: true, abort: true })
  .refine((s) => Date.parse(s) >= Date.parse("0001-01-01T00:00:00Z") && Date.parse(s) <= maxOccurredAtMs, "must be between the years 1 and 9999");

/** An id or name to filter by: PostgreSQL text cannot hold NUL. */
export const queryText = (max: number) => z.string().min(1).max(max).refine((s) => !s.includes("\u0000"), "must not contain NUL characters");

export const maxBatchItems = 5000;
