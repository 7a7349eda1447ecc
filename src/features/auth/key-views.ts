// What the API answers about API keys, as zod schemas: a key as listed (never its secret) and a key
// just created (the only time the key is shown). The key service's return types are these
// schemas' types; the OpenAPI document publishes them and test/openapi.e2e.test.ts holds real
// answers to them.
import { z } from "zod";
import { pageOf } from "../../shared/page-view";
import { scopes } from "./api-key";

const moment = z.iso.datetime();

export const apiKeyViewSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(scopes)),
  createdAt: moment,
  /** Who made it: `key:<id>` (an admin through the API), `cli`, `bootstrap` or `env:CLAUSEGUARD_ADMIN_KEY`. */
  createdBy: z.string(),
  /** Recorded at most once a minute. */
  lastUsedAt: moment.nullable(),
  expiresAt: moment.nullable(),
  revokedAt: moment.nullable(),
});
export type ApiKeyView = z.infer<typeof apiKeyViewSchema>;

/** GET /v1/keys: every key, in one page. */
export const apiKeyPageSchema = pageOf(apiKeyViewSchema);
export type ApiKeyPage = z.infer<typeof apiKeyPageSchema>;

/** POST /v1/keys (201): the key itself, shown this once (only its secret's hash is stored). */
export const createdKeySchema = z.strictObject({ id: z.string(), key: z.string() });
export type CreatedKey = z.infer<typeof createdKeySchema>;
