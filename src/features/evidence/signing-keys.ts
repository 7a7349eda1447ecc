// The Ed25519 keys that sign evidence bundles (docs/due-process.md#signed-evidence): the current
// private key from CLAUSEGUARD_SIGNING_KEY_FILE (PKCS#8 PEM), or on the embedded database one made
// on first start in the data folder; retired public keys from CLAUSEGUARD_SIGNING_RETIRED_KEYS,
// still served so that older bundles verify. Node's crypto does the signing; RFC 8785 canonical
// JSON (json-canonicalize) is what is signed.
import { type KeyObject, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { canonicalize } from "json-canonicalize";

export type SigningKey = { keyId: string; privateKey: KeyObject; publicKey: KeyObject };
export type SigningKeys = { current: SigningKey; retired: { keyId: string; publicKey: KeyObject }[] };

/** A public key's id: `ed25519:` and the first 16 hex digits of the SHA-256 of its raw 32 bytes. */
export function keyIdOf(publicKey: KeyObject): string {
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
  return `ed25519:${createHash("sha256").update(raw).digest("hex").slice(0, 16)}`;
}

/** A new private key as PKCS#8 PEM. */
export function generateSigningKeyPem(): string {
  return generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
}

export class SigningKeyError extends Error {
  override name = "SigningKeyError";
}

/** A PEM key of `kind`, checked to be Ed25519; `where` names it in errors. */
function keyFromPem(text: string, where: string, kind: "private" | "public"): KeyObject {
  let key: KeyObject;
  try {
    key = kind === "private" ? createPrivateKey(text) : createPublicKey(text);
  } catch (err) {
    throw new SigningKeyError(`${where} is not a PEM ${kind} key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new SigningKeyError(`${where} holds a ${key.asymmetricKeyType} key; evidence is signed with Ed25519`);
  return key;
}

function readKey(file: string, variable: string, kind: "private" | "public"): KeyObject {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new SigningKeyError(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return keyFromPem(text, `${variable}: ${file}`, kind);
}

/** A public key from PEM text already read (`clauseguard evidence verify --public-key`). */
export const publicKeyFromPem = (text: string, file: string): KeyObject => keyFromPem(text, `--public-key: ${file}`, "public");

/**
 * The keys to sign with. `keyFile` wins; without it, on the embedded database, the key in
 * `<dataDir>/signing-key.pem` (made there, readable by its owner only, when absent); on
 * PostgreSQL, none (bundles answer 503 until a key is configured: several processes must share it).
 */
export function loadSigningKeys(opts: { keyFile?: string; retiredFiles: string[]; dataDir?: string }): SigningKeys | undefined {
  let file = opts.keyFile;
  if (!file && opts.dataDir) {
    file = path.join(opts.dataDir, "signing-key.pem");
    if (!fs.existsSync(file)) {
      fs.mkdirSync(opts.dataDir, { recursive: true });
      fs.writeFileSync(file, generateSigningKeyPem(), { mode: 0o600, flag: "wx" });
    }
  }
  if (!file) return undefined;
  const privateKey = readKey(file, "CLAUSEGUARD_SIGNING_KEY_FILE", "private");
  const publicKey = createPublicKey(privateKey);
  const retired = opts.retiredFiles.map((f) => readKey(f, "CLAUSEGUARD_SIGNING_RETIRED_KEYS", "public")).map((k) => ({ keyId: keyIdOf(k), publicKey: k }));
  return { current: { keyId: keyIdOf(publicKey), privateKey, publicKey }, retired };
}

/** The public keys as a JSON Web Key Set (RFC 8037 OKP keys), the current one first. */
export function publicKeySet(keys: SigningKeys | undefined): { keys: { kty: "OKP"; crv: "Ed25519"; x: string; kid: string; use: "sig"; alg: "EdDSA"; status: "current" | "retired" }[] } {
  if (!keys) return { keys: [] };
  const jwk = (k: KeyObject) => k.export({ format: "jwk" }).x as string;
  return {
    keys: [
      { kty: "OKP", crv: "Ed25519", x: jwk(keys.current.publicKey), kid: keys.current.keyId, use: "sig", alg: "EdDSA", status: "current" },
      ...keys.retired.map((r) => ({ kty: "OKP" as const, crv: "Ed25519" as const, x: jwk(r.publicKey), kid: r.keyId, use: "sig" as const, alg: "EdDSA" as const, status: "retired" as const })),
    ],
  };
}

/** A public key from a JWK of the set above. */
export function publicKeyFromJwk(jwk: { kty: string; crv: string; x: string }): KeyObject {
  return createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: "jwk" });
}

export type Signature = { algorithm: "Ed25519"; canonicalization: "RFC8785"; keyId: string; value: string };

/** Signs a document: the signature over its RFC 8785 canonical JSON, without a `signature` field. */
export function signDocument<T extends Record<string, unknown>>(doc: T, key: SigningKey): T & { signature: Signature } {
  const { signature: _ignored, ...unsigned } = doc as T & { signature?: unknown };
  const value = sign(null, Buffer.from(canonicalize(unsigned), "utf8"), key.privateKey).toString("base64url");
  return { ...doc, signature: { algorithm: "Ed25519", canonicalization: "RFC8785", keyId: key.keyId, value } };
}

/** Whether `doc.signature` is a valid signature of the rest of `doc` by `publicKey`. */
export function signatureHolds(doc: { signature?: Partial<Signature> } & Record<string, unknown>, publicKey: KeyObject): boolean {
  const { signature, ...unsigned } = doc;
  if (!signature || signature.algorithm !== "Ed25519" || typeof signature.value !== "string") return false;
  try {
    return verify(null, Buffer.from(canonicalize(unsigned), "utf8"), publicKey, Buffer.from(signature.value, "base64url"));
  } catch {
    return false;
  }
}

/** The SHA-256 (hex) of a value's RFC 8785 canonical JSON: how an event removed by retention is still named in evidence. */
export function canonicalDigest(value: unknown): string {
  return createHash("sha256").update(canonicalize(value), "utf8").digest("hex");
}
