// `clauseguard evidence verify|keygen`: an evidence bundle checked offline (its signature, its
// events' digests, each hit re-evaluated on the bundled fact values), and a signing key made.
import fs from "node:fs";
import { type KeyObject, createPublicKey } from "node:crypto";
import type { Command } from "commander";
import { ruleCompiler } from "../../engine/rule-compiler";
import { evidenceBundleSchema, signingKeySetSchema } from "../../features/evidence/evidence-views";
import { verifyBundle } from "../../features/evidence/evidence-verify";
import { generateSigningKeyPem, keyIdOf, publicKeyFromJwk, publicKeyFromPem } from "../../features/evidence/signing-keys";
import { issuesToFieldErrors } from "../../shared/errors";
import { parseUrl } from "../command-options";
import { OperatorError, exitCodes } from "../operator-error";
import { loadConfig } from "../../config";

const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

/** The public key `keyId` names: from --public-key (a PEM public key, or a key set as GET /v1/signing-keys serves it), else from the server. */
async function publicKeyFor(keyId: string, opts: { publicKey?: string; url?: string }): Promise<KeyObject> {
  let set: unknown;
  if (opts.publicKey) {
    const text = fs.readFileSync(opts.publicKey, "utf8");
    if (text.includes("-----BEGIN")) {
      const key = publicKeyFromPem(text, opts.publicKey);
      if (keyIdOf(key) !== keyId) throw new OperatorError(`${opts.publicKey} is key ${keyIdOf(key)}, but the bundle was signed with ${keyId}`, exitCodes.failure);
      return key;
    }
    try {
      set = JSON.parse(text);
    } catch {
      throw new OperatorError(`${opts.publicKey} is neither a PEM public key nor a JSON key set`, exitCodes.usage);
    }
  } else {
    const url = opts.url ?? process.env.CLAUSEGUARD_URL ?? `http://127.0.0.1:${loadConfig().port}`;
    const res = await fetch(`${url.replace(/\/+$/, "")}/v1/signing-keys`).catch((err: Error) => {
      throw new OperatorError(`cannot fetch the public keys from ${url}/v1/signing-keys (${String(err.cause ?? err.message)}); pass --public-key <file>`, exitCodes.failure);
    });
    set = await res.json();
  }
  const parsed = signingKeySetSchema.safeParse(set);
  if (!parsed.success) throw new OperatorError(`not a key set: ${issuesToFieldErrors(parsed.error.issues).map((e) => `${e.path} ${e.message}`).join("; ")}`, exitCodes.usage);
  const jwk = parsed.data.keys.find((k) => k.kid === keyId);
  if (!jwk) throw new OperatorError(`no key ${keyId} in the key set (it has ${parsed.data.keys.map((k) => k.kid).join(", ") || "none"})`, exitCodes.failure);
  return publicKeyFromJwk(jwk);
}

export function registerEvidenceCommands(program: Command): void {
  const evidence = program.command("evidence").description("signed evidence bundles");
  evidence
    .command("verify <bundle>")
    .description("check a bundle's signature and re-evaluate its pinned rule version on the bundled fact values; exit 0 only when both hold")
    .option("--public-key <file>", "a PEM public key, or a key set saved from GET /v1/signing-keys (default: fetched from --url)")
    .option("--url <url>", "the server whose GET /v1/signing-keys to use (default: CLAUSEGUARD_URL, else http://127.0.0.1:$PORT)", parseUrl)
    .action(async (file: string, opts: { publicKey?: string; url?: string }) => {
      let json: unknown;
      try {
        json = JSON.parse(fs.readFileSync(file, "utf8"));
      } catch (err) {
        throw new OperatorError(`${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : `not valid JSON (${(err as Error).message})`}`, exitCodes.usage);
      }
      const parsed = evidenceBundleSchema.safeParse(json);
      if (!parsed.success) {
        throw new OperatorError(`${file} is not an evidence bundle:\n${issuesToFieldErrors(parsed.error.issues).map((e) => `  ${e.path || "(the document)"}: ${e.message}`).join("\n")}`, exitCodes.failure);
      }
      const bundle = parsed.data;
      const key = await publicKeyFor(bundle.signature.keyId, opts);
      const check = await verifyBundle(bundle, key, ruleCompiler("compiled"));
      const out: string[] = [];
      out.push(`case ${bundle.case.id}: ${bundle.case.ruleId} on ${bundle.case.accountId}, ${bundle.hits.length} recorded hit(s) of ${bundle.case.hitCount}`);
      out.push(`signature: ${check.signature ? "valid" : "INVALID"} (key ${check.keyId})`);
      out.push(
        `events: ${bundle.events.length} carried, ${check.eventsTampered.length ? `DIGEST MISMATCH for ${check.eventsTampered.join(", ")}` : "each matching its digest"}; ${bundle.eventDigests.length} removed by retention (digest kept)${bundle.unavailableEventIds.length ? `; ${bundle.unavailableEventIds.length} unavailable` : ""}`,
      );
      for (const hit of check.hits) {
        out.push(`hit ${hit.hitId} (rule version ${hit.ruleVersion}): ${hit.reproduced ? "reproduced" : `NOT REPRODUCED (${hit.reason ?? `outcome ${hit.outcome}`})`}`);
        for (const c of hit.conditions) {
          const same = c.recorded === null || c.recorded === c.recomputed;
          out.push(`  ${c.path}  ${c.fact} = ${show(c.factValue)} ${c.operator} ${show(c.value)}: recorded ${show(c.recorded)}, recomputed ${show(c.recomputed)}${same ? "" : "  <- differs"}`);
        }
      }
      out.push(check.ok ? "verified: the signature holds and every recorded outcome is reproduced" : "NOT VERIFIED");
      process.stdout.write(`${out.join("\n")}\n`);
      if (!check.ok) throw new OperatorError("the bundle did not verify", exitCodes.failure);
    });
  evidence
    .command("keygen")
    .description("write a new Ed25519 private key (PKCS#8 PEM) for CLAUSEGUARD_SIGNING_KEY_FILE")
    .requiredOption("--out <file>", "the new key file (refused if it exists; readable by its owner only)")
    .action((opts: { out: string }) => {
      if (fs.existsSync(opts.out)) throw new OperatorError(`${opts.out} already exists: choose another file name`, exitCodes.usage);
      const pem = generateSigningKeyPem();
      fs.writeFileSync(opts.out, pem, { mode: 0o600, flag: "wx" });
      process.stdout.write(`wrote ${opts.out} (key ${keyIdOf(createPublicKey(pem))})\n`);
    });
}
