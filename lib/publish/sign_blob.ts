/**
 * Sign a file the way `cosign sign-blob --key … --bundle …` does: an ECDSA
 * signature over the file's bytes, logged in Rekor as a `hashedrekord`
 * 0.0.1 entry and assembled into a v0.3 Sigstore bundle with a message
 * signature (`@sigstore/sign`'s `MessageSignatureBundleBuilder` and
 * `RekorWitness`, see `bundle_builders.ts`), and verified with this
 * project's own verifier (`lib/bundle/verify_bundle.ts`, which uses
 * `@sigstore/verify`) against the given trusted root and the signer's
 * public key before it is handed back. Nothing is written here.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Signer } from "../keys/signer.ts";
import { bytesArtifact } from "../bundle/artifact.ts";
import { type VerifiedBundle, verifyBundle } from "../bundle/verify_bundle.ts";
import type { RekorEntry } from "../transparency/rekor.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import { parseTrustedKey } from "../trust/trusted_key.ts";
import { createMessageBundle } from "./bundle_builders.ts";

/** What {@linkcode signBlob} needs. */
export interface SignBlobInput {
  /** The file's bytes (a message signature covers the bytes themselves). */
  bytes: Uint8Array;
  /** Shown in errors and in the verifier's report. */
  path: string;
  signer: Signer;
  rekorUrl: string;
  /** The proxy Rekor is reached through (the run's `--proxy` / Tor on Tails; default none). */
  rekorProxy?: string;
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

/**
 * Sign `input.bytes`, log the signature in Rekor, build the bundle and
 * verify it with the signer's public key.
 * @throws NetworkError / RegistryError (Rekor), VerificationError (the log's
 *   answer or the bundle does not verify against `trustedRoot`).
 */
export async function signBlob(input: SignBlobInput): Promise<SignedBlob> {
  const { bundle, rekor } = await createMessageBundle({
    bytes: input.bytes,
    signer: input.signer,
    rekorUrl: input.rekorUrl,
    rekorProxy: input.rekorProxy,
  });
  const artifact = bytesArtifact(input.bytes, input.path);
  const key = parseTrustedKey(
    new TextEncoder().encode(input.signer.publicKeyPem()),
    "the signing key",
  );
  const verified = verifyBundle(bundle, artifact, { trustedRoot: input.trustedRoot, key });
  return { bundle, rekor: rekor!, verified, sha256: Buffer.from(artifact.sha256).toString("hex") };
}
