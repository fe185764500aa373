/**
 * What an attacker who controls the registry (not the signing key) can do
 * with public material, for the attack tests: take a published signature,
 * compute its ECDSA twin `(r, n−s)` (also valid, and a NEW Rekor entry), log
 * it, and attach it; rewrite a bundle's log position.
 *
 * Nothing here uses a private key: the "signer" handed to `signImage` only
 * returns a signature computed from public bytes.
 *
 * @module
 */

import type { Signer } from "../../lib/keys/signer.ts";
import type { RegistryClient } from "../../lib/registry/client.ts";
import { cosignSignatureTag } from "../../lib/registry/client.ts";
import { signImage } from "../../lib/publish/sign_image.ts";
import type { LoadedTrustedRoot } from "../../lib/trust/trusted_root.ts";
import { malleateEcdsaP256 } from "../reliability/encoding.ts";

/** The other valid ECDSA signature `(r, n−s)` of a DER P-256 signature. */
export const ecdsaTwin = malleateEcdsaP256;

/** A "signer" that returns a fixed (public) signature: replay, no key involved. */
export function replaySigner(publicKeyPem: string, signature: Uint8Array): Signer {
  return {
    publicKeyPem: () => publicKeyPem,
    sign: () => Promise.resolve(signature),
  };
}

/** The base64 signatures of an image's `.sig` manifest, as published. */
export async function publishedSignatures(
  client: RegistryClient,
  repository: string,
  digest: string,
): Promise<Uint8Array[]> {
  const m = await client.getManifest(repository, cosignSignatureTag(digest));
  const doc = JSON.parse(new TextDecoder().decode(m.bytes)) as {
    layers: { annotations?: Record<string, string> }[];
  };
  return doc.layers.map((l) =>
    Uint8Array.from(
      atob(l.annotations!["dev.cosignproject.cosign/signature"]),
      (c) => c.charCodeAt(0),
    )
  );
}

/**
 * Log the twin of `digest`'s first published signature as a NEW hashedrekord
 * entry and append it to the `.sig` manifest; returns the new log index.
 */
export async function relogTwin(opts: {
  client: RegistryClient;
  repository: string;
  digest: string;
  publicKeyPem: string;
  rekorUrl: string;
  trustedRoot: LoadedTrustedRoot;
}): Promise<number> {
  const [original] = await publishedSignatures(opts.client, opts.repository, opts.digest);
  const r = await signImage({
    client: opts.client,
    repository: opts.repository,
    digest: opts.digest,
    signer: replaySigner(opts.publicKeyPem, ecdsaTwin(original)),
    rekorUrl: opts.rekorUrl,
    trustedRoot: opts.trustedRoot,
  });
  return r.verified.tlog!.logIndex;
}
