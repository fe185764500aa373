/**
 * Sign a file the way `cosign sign-blob --key … --bundle …` does: an ECDSA
 * signature over the file's bytes, logged in Rekor as a `hashedrekord`
 * 0.0.1 entry, assembled into a v0.3 Sigstore bundle with a message
 * signature (`@sigstore/bundle`'s `toMessageSignatureBundle`), and verified
 * with this project's own verifier (`lib/bundle/verify_bundle.ts`, which
 * uses `@sigstore/verify`) against the given trusted root and the signer's
 * public key before it is handed back. Nothing is written here.
 *
 * `@sigstore/sign`'s `MessageSignatureBundleBuilder` is not used: its Rekor
 * witness brings its own HTTP stack (`make-fetch-happen`) into the program,
 * and its signer interface adds nothing over {@linkcode Signer}; Rekor is
 * reached with this project's `lib/transparency/rekor_client.ts`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { bundleToJSON, toMessageSignatureBundle } from "../npm/sigstore_bundle.ts";
import type { Signer } from "../keys/signer.ts";
import { bytesArtifact } from "../bundle/artifact.ts";
import { type VerifiedBundle, verifyBundle } from "../bundle/verify_bundle.ts";
import { type RekorEntry, uploadHashedRekord } from "../transparency/rekor_client.ts";
import { bundleTlogEntry } from "../transparency/rekor_dsse.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import { parseTrustedKey } from "../trust/trusted_key.ts";

/** What {@linkcode signBlob} needs. */
export interface SignBlobInput {
  /** The file's bytes (a message signature covers the bytes themselves). */
  bytes: Uint8Array;
  /** Shown in errors and in the verifier's report. */
  path: string;
  signer: Signer;
  rekorUrl: string;
  /** The root the bundle must verify against before it is returned. */
  trustedRoot: LoadedTrustedRoot;
}

/** A signed, logged and verified bundle. */
export interface SignedBlob {
  /** The bundle JSON document (v0.3, message signature, one tlog entry). */
  bundle: Record<string, unknown>;
  rekor: RekorEntry;
  /** What the project's verifier said about it. */
  verified: VerifiedBundle;
  /** sha256 of the file, hex. */
  sha256: string;
}

/** cosign's key hint: base64 of the SHA-256 of the public key's SPKI DER. */
function publicKeyHint(publicKeyPem: string): string {
  const spki = crypto.createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
  return crypto.createHash("sha256").update(spki).digest("base64");
}

/**
 * Sign `input.bytes`, log the signature in Rekor, build the bundle and
 * verify it with the signer's public key.
 * @throws NetworkError / RegistryError (Rekor), VerificationError (the log's
 *   answer or the bundle does not verify against `trustedRoot`).
 */
export async function signBlob(input: SignBlobInput): Promise<SignedBlob> {
  const signature = await input.signer.sign(input.bytes);
  const publicKeyPem = input.signer.publicKeyPem();
  const rekor = await uploadHashedRekord(input.rekorUrl, input.bytes, signature, publicKeyPem);
  const artifact = bytesArtifact(input.bytes, input.path);
  const built = bundleToJSON(toMessageSignatureBundle({
    digest: Buffer.from(artifact.sha256),
    signature: Buffer.from(signature),
    keyHint: publicKeyHint(publicKeyPem),
  })) as unknown as Record<string, unknown>;
  const material = built.verificationMaterial as Record<string, unknown>;
  const bundle = {
    ...built,
    verificationMaterial: { ...material, tlogEntries: [bundleTlogEntry(rekor)] },
  };
  const key = parseTrustedKey(new TextEncoder().encode(publicKeyPem), "the signing key");
  const verified = verifyBundle(bundle, artifact, { trustedRoot: input.trustedRoot, key });
  return { bundle, rekor, verified, sha256: Buffer.from(artifact.sha256).toString("hex") };
}
