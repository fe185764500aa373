/**
 * Sign an image the cosign way: simple-signing payload for the digest,
 * signed with the key and logged in Rekor as a hashedrekord entry
 * (`@sigstore/sign`'s message-signature builder and Rekor witness, see
 * `bundle_builders.ts`; cosign's `dev.sigstore.cosign/bundle` annotation is
 * made of the built bundle's log entry), checked with
 * this project's own verifier against the trusted root, and only then
 * appended to the image's `sha256-<hex>.sig` manifest.
 *
 * @module
 */

import type { Signer } from "../keys/signer.ts";
import type { RegistryClient } from "../registry/client.ts";
import { simpleSigningPayload } from "./simple_signing.ts";
import { attachSignature } from "./signature_manifest.ts";
import type { RekorEntry } from "../transparency/rekor.ts";
import { createMessageBundle } from "./bundle_builders.ts";
import { parseCosignEntry } from "../signatures/cosign_list.ts";
import { type VerifiedSignature, verifyCosignSignature } from "../signatures/verify.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import { parseTrustedKey } from "../trust/trusted_key.ts";
import type { CosignDownloadEntry } from "../signatures/model.ts";

/** What to sign and how. */
export interface SignRequest {
  client: RegistryClient;
  repository: string;
  /** Image manifest digest (must exist in the repository). */
  digest: string;
  signer: Signer;
  /** Rekor to log in; undefined: do not log (the signature then cannot pass `upgrade`). */
  rekorUrl?: string;
  /** The proxy Rekor is reached through (the run's `--proxy` / Tor on Tails; default none). */
  rekorProxy?: string;
  /** Trusted root the Rekor entry must verify against before anything is pushed. */
  trustedRoot: LoadedTrustedRoot;
  annotations?: Record<string, string>;
  /**
   * The signed identity (`critical.identity.docker-reference`; cosign's
   * `--sign-container-identity`), default `<registry>/<repository>`.
   */
  identity?: string;
}

/** What was signed and published. */
export interface SignResult {
  /** The signature in `cosign download signature` form. */
  entry: CosignDownloadEntry;
  rekor?: RekorEntry;
  verified: VerifiedSignature;
  signatureManifest: string;
  signatures: number;
  added: boolean;
}

function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Sign, log, self-verify, publish. Nothing is pushed unless the result verifies. */
export async function signImage(req: SignRequest): Promise<SignResult> {
  // The image must exist: getManifest checks its bytes hash to the digest.
  await req.client.getManifest(req.repository, req.digest);
  const payload = simpleSigningPayload(
    req.identity ?? `${req.client.registry}/${req.repository}`,
    req.digest,
    req.annotations,
  );
  const { signature, rekor } = await createMessageBundle({
    bytes: payload,
    signer: req.signer,
    rekorUrl: req.rekorUrl,
    rekorProxy: req.rekorProxy,
  });
  const publicKeyPem = req.signer.publicKeyPem();
  const entry: CosignDownloadEntry = {
    Base64Signature: b64(signature),
    Payload: b64(payload),
    Cert: null,
    Chain: null,
    Bundle: rekor
      ? {
        SignedEntryTimestamp: rekor.signedEntryTimestamp,
        Payload: {
          body: rekor.body,
          integratedTime: rekor.integratedTime,
          logIndex: rekor.logIndex,
          logID: rekor.logID,
        },
      }
      : null,
    RFC3161Timestamp: null,
  };
  // Verify what we are about to publish, exactly as `upgrade` will.
  const key = parseTrustedKey(new TextEncoder().encode(publicKeyPem), "the signing key");
  const verified = verifyCosignSignature(parseCosignEntry(entry), req.digest, {
    trustedRoot: req.trustedRoot,
    key,
    requireTlog: rekor !== undefined,
  });
  const annotations: Record<string, string> = {
    "dev.cosignproject.cosign/signature": entry.Base64Signature,
  };
  if (entry.Bundle) annotations["dev.sigstore.cosign/bundle"] = JSON.stringify(entry.Bundle);
  const attached = await attachSignature(req.client, req.repository, req.digest, {
    payload,
    annotations,
  });
  return {
    entry,
    rekor,
    verified,
    signatureManifest: attached.digest,
    signatures: attached.layers,
    added: attached.added,
  };
}
