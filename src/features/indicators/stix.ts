// STIX 2.1 as ClauseGuard exchanges it (docs/due-process.md#indicator-exchange): a bundle of
// indicator objects whose patterns compare one custom observable property to an HMAC-SHA256 hash,
// `[x-clauseguard-hmac:payment_fingerprint = '<64 hex>']`. The import checks a bundle against the
// specification's rules for bundles and indicators (identifiers, timestamps, spec_version,
// confidence, validity) and reports every fault with its path; indicators in other pattern forms
// are well-formed STIX that ClauseGuard cannot match, and are counted as ignored.
import { createHash, createHmac } from "node:crypto";
import { z } from "zod";
import { issuesToFieldErrors } from "../../shared/errors";
import { type IndicatorKind, indicatorKinds } from "../../engine/fact-catalog";

/** What an indicator can hash (the engine's list: rules name the kinds), and the observable property its pattern names. */
export { type IndicatorKind, indicatorKinds };
export const patternProperty: Record<IndicatorKind, string> = {
  accountId: "account_id",
  paymentFingerprint: "payment_fingerprint",
  ipPrefix: "ip_prefix",
  promptTemplateHash: "prompt_template_hash",
};
export const patternObject = "x-clauseguard-hmac";

/** The hash two partners both compute from a raw value with the secret they share. */
export function indicatorHash(secret: string, kind: IndicatorKind, value: string): string {
  return createHmac("sha256", secret).update(`${kind}:${value}`, "utf8").digest("hex");
}

export const patternOf = (kind: IndicatorKind, hash: string) => `[${patternObject}:${patternProperty[kind]} = '${hash}']`;

const patternForm = new RegExp(`^\\[${patternObject}:(${Object.values(patternProperty).join("|")}) = '([0-9a-f]{64})'\\]$`);
/** The kind and hash of a ClauseGuard pattern, or undefined for any other pattern. */
export function parsePattern(pattern: string): { kind: IndicatorKind; hash: string } | undefined {
  const m = patternForm.exec(pattern);
  if (!m) return undefined;
  const kind = indicatorKinds.find((k) => patternProperty[k] === m[1])!;
  return { kind, hash: m[2]! };
}

/** A deterministic STIX identifier (a UUIDv5-shaped digest of `name`): the same indicator keeps its id across exports. */
export function stixId(type: string, name: string): string {
  const h = createHash("sha256").update(`clauseguard:${type}:${name}`).digest("hex");
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${type}--${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

// The specification's formats: identifiers are <type>--<RFC 4122 UUID>, timestamps RFC 3339 in UTC with Z.
const uuid = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}";
const timestamp = z.string().superRefine((t, ctx) => {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(t)) ctx.addIssue({ code: "custom", message: "must be an RFC 3339 timestamp in UTC ending in Z" });
  else if (Number.isNaN(Date.parse(t))) ctx.addIssue({ code: "custom", message: "is not a real moment" });
});
const typeName = z.string().regex(/^([a-z][a-z0-9-]+[a-z0-9])$/, "must be a STIX type name (lowercase letters, digits, '-')").min(3).max(250);
const identifierOf = (type?: string) => z.string().regex(new RegExp(`^${type ?? "[a-z][a-z0-9-]+[a-z0-9]"}--${uuid}$`), `must be an identifier ${type ?? "<type>"}--<UUID>`);

/** An indicator (STIX 2.1, 4.7): the required properties checked, custom ones allowed. */
export const stixIndicatorSchema = z
  .looseObject({
    type: z.literal("indicator"),
    spec_version: z.literal("2.1"),
    id: identifierOf("indicator"),
    created: timestamp,
    modified: timestamp,
    pattern: z.string().min(1),
    pattern_type: z.string().min(1),
    valid_from: timestamp,
    valid_until: timestamp.optional(),
    confidence: z.number().int().min(0).max(100).optional(),
    name: z.string().optional(),
    description: z.string().optional(),
    indicator_types: z.array(z.string().min(1)).optional(),
    labels: z.array(z.string().min(1)).optional(),
    revoked: z.boolean().optional(),
  })
  .superRefine((o, ctx) => {
    if (o.valid_until && Date.parse(o.valid_until) <= Date.parse(o.valid_from)) ctx.addIssue({ code: "custom", path: ["valid_until"], message: "must be later than valid_from" });
    if (Date.parse(o.modified) < Date.parse(o.created)) ctx.addIssue({ code: "custom", path: ["modified"], message: "must not be earlier than created" });
  });

/** Any other object of a bundle: a type and an identifier of that type. */
const stixObjectSchema = z.looseObject({ type: typeName, id: z.string() }).superRefine((o, ctx) => {
  if (!identifierOf(o.type).safeParse(o.id).success) ctx.addIssue({ code: "custom", path: ["id"], message: `must be an identifier ${o.type}--<UUID>` });
});

/** A bundle's envelope (STIX 2.1, 8): its objects are checked one by one (validateStixBundle). */
const stixBundleEnvelope = z.looseObject({
  type: z.literal("bundle"),
  id: identifierOf("bundle"),
  objects: z.array(z.unknown()).max(100_000, "holds more than 100,000 objects"),
});

export type StixFault = { path: string; message: string };

/** Checks a parsed bundle: its envelope, every indicator in full, every other object's type and id. Every fault, with its path. */
export function validateStixBundle(value: unknown): { ok: true; objects: { index: number; indicator?: StixIndicator; type: string }[] } | { ok: false; faults: StixFault[] } {
  const envelope = stixBundleEnvelope.safeParse(value);
  const faults: StixFault[] = envelope.success ? [] : issuesToFieldErrors(envelope.error.issues);
  const objects: { index: number; indicator?: StixIndicator; type: string }[] = [];
  // The objects are checked even when the envelope is wrong: every fault at once.
  const list = typeof value === "object" && value !== null && Array.isArray((value as { objects?: unknown }).objects) ? ((value as { objects: unknown[] }).objects.slice(0, 100_000)) : [];
  list.forEach((o, index) => {
    const isIndicator = typeof o === "object" && o !== null && (o as { type?: unknown }).type === "indicator";
    const r = isIndicator ? stixIndicatorSchema.safeParse(o) : stixObjectSchema.safeParse(o);
    if (!r.success) faults.push(...issuesToFieldErrors(r.error.issues, ["objects", index]));
    else objects.push({ index, type: (r.data as { type: string }).type, ...(isIndicator ? { indicator: r.data as StixIndicator } : {}) });
  });
  return faults.length ? { ok: false, faults } : { ok: true, objects };
}
export type StixIndicator = z.infer<typeof stixIndicatorSchema>;

/** The bundle ClauseGuard exports (the OpenAPI document's schema of GET /v1/indicators). */
export const exportedBundleSchema = z.strictObject({
  type: z.literal("bundle"),
  id: z.string(),
  objects: z.array(
    z.strictObject({
      type: z.literal("indicator"),
      spec_version: z.literal("2.1"),
      id: z.string(),
      created: z.string(),
      modified: z.string(),
      name: z.string(),
      indicator_types: z.array(z.string()),
      pattern: z.string(),
      pattern_type: z.literal("stix"),
      valid_from: z.string(),
      valid_until: z.string(),
      confidence: z.number().int(),
      labels: z.array(z.string()),
    }),
  ),
});
export type ExportedBundle = z.infer<typeof exportedBundleSchema>;

export const importResultSchema = z.strictObject({
  source: z.string(),
  /** ClauseGuard indicators stored (new or replaced). */
  imported: z.number().int(),
  /** Well-formed objects ClauseGuard cannot use: other object types, other pattern forms, revoked indicators. */
  ignored: z.number().int(),
  /** Every indicator now held from this source. */
  held: z.number().int(),
});
export type ImportResult = z.infer<typeof importResultSchema>;
