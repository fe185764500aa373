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

/** The order of the P-256 group. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

function readInt(der: Uint8Array, at: number): { value: bigint; next: number } {
  if (der[at] !== 0x02) throw new Error("not a DER INTEGER");
  const len = der[at + 1];
  let v = 0n;
  for (const b of der.subarray(at + 2, at + 2 + len)) v = (v << 8n) | BigInt(b);
  return { value: v, next: at + 2 + len };
}

function intBytes(v: bigint): number[] {
  const out: number[] = [];
  while (v > 0n) {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  if (out.length === 0 || out[0] & 0x80) out.unshift(0);
  return out;
}

/** The other valid ECDSA signature `(r, n−s)` of a DER P-256 signature. */
export function ecdsaTwin(der: Uint8Array): Uint8Array {
  if (der[0] !== 0x30) throw new Error("not a DER SEQUENCE");
  const r = readInt(der, 2);
  const s = readInt(der, r.next);
  const rb = intBytes(r.value);
  const sb = intBytes(P256_N - s.value);
  const body = [0x02, rb.length, ...rb, 0x02, sb.length, ...sb];
  return new Uint8Array([0x30, body.length, ...body]);
}

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
