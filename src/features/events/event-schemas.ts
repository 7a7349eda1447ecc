// The usage event as the gateway posts it (SPEC.md "Usage event"): one zod schema that validates and types it.
import { z } from "zod";

const forbiddenKeys = new Set(["__proto__", "constructor", "prototype"]);
const maxAttributesBytes = 4096;

const optionalText = (max: number) => z.string().min(1).max(max).nullish();

/** Object keys a rule or a log could trip over are refused outright. */
function noForbiddenKeys(value: unknown, ctx: z.RefinementCtx, path: (string | number)[] = []): void {
  if (Array.isArray(value)) value.forEach((v, i) => noForbiddenKeys(v, ctx, [...path, i]));
  else if (value !== null && typeof value === "object") {
    for (const k of Object.keys(value)) {
      if (forbiddenKeys.has(k)) ctx.addIssue({ code: "custom", path: [...path, k], message: `the key '${k}' is not allowed` });
      else noForbiddenKeys((value as Record<string, unknown>)[k], ctx, [...path, k]);
    }
  }
}

const signalName = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const signalsSchema = z
  .custom<Record<string, number | boolean>>((v) => v !== null && typeof v === "object" && !Array.isArray(v), "must be an object")
  .superRefine((obj, ctx) => {
    const entries = Object.entries(obj);
    if (entries.length > 64) ctx.addIssue({ code: "custom", message: "at most 64 signals" });
    for (const [k, v] of entries) {
      if (!signalName.test(k)) ctx.addIssue({ code: "custom", path: [k], message: "a signal name is letters, digits and _ (at most 64)" });
      else if (!(typeof v === "boolean" || (typeof v === "number" && v >= 0 && v <= 1))) {
        ctx.addIssue({ code: "custom", path: [k], message: "a signal is a boolean or a number in [0, 1]" });
      }
    }
  });

const attributesSchema = z
  .custom<Record<string, unknown>>((v) => v !== null && typeof v === "object" && !Array.isArray(v), "must be an object")
  .superRefine((obj, ctx) => {
    noForbiddenKeys(obj, ctx);
    const size = Buffer.byteLength(JSON.stringify(obj), "utf8");
    if (size > maxAttributesBytes) ctx.addIssue({ code: "custom", message: `is ${size} bytes serialized; at most ${maxAttributesBytes}` });
  });

export const usageEventSchema = z.strictObject({
  eventId: z.string().min(1).max(128),
  occurredAt: z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time with a zone, e.g. 2026-11-24T19:00:00Z" }),
  accountId: z.string().min(1).max(128),
  orgId: optionalText(128),
  apiKeyId: optionalText(128),
  model: z.string().min(1).max(128),
  endpoint: optionalText(128),
  inputTokens: z.number().int().min(0).max(2_147_483_647),
  outputTokens: z.number().int().min(0).max(2_147_483_647),
  endUserId: optionalText(128),
  ip: z.union([z.ipv4(), z.ipv6()], { message: "must be an IPv4 or IPv6 address" }).nullish(),
  ipType: z.enum(["residential", "hosting", "vpn", "proxy", "unknown"]).nullish(),
  country: z.string().regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 code such as NL").nullish(),
  asn: z.number().int().min(0).max(4_294_967_295).nullish(),
  userAgent: z.string().max(512).nullish(),
  paymentFingerprint: optionalText(128),
  promptTemplateHash: optionalText(128),
  signals: signalsSchema.nullish(),
  attributes: attributesSchema.nullish(),
});

export type UsageEventInput = z.infer<typeof usageEventSchema>;

export const maxBatchItems = 5000;
