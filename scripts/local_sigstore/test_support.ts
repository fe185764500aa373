/**
 * Shared helpers for the local Sigstore stand-in tests: key-based signing of
 * a blob, hashedrekord proposals, and verification of the result with the
 * real `@sigstore/verify` against the stand-in's trusted root.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { bundleFromJSON } from "@sigstore/bundle";
import { PublicKeyDetails, TrustedRoot } from "@sigstore/protobuf-specs";
import { toSignedEntity, toTrustMaterial, Verifier } from "@sigstore/verify";
import type { VerificationPolicy } from "@sigstore/verify";
import { installNodeVerifyShim } from "../../lib/crypto/node_verify_shim.ts";
import type { TrustedRootJson } from "./trusted_root.ts";
import type { RekorLogEntry } from "./transparency_log.ts";

/** A fresh ECDSA P-256 key and a signed blob. */
export interface SignedBlob {
  publicKey: crypto.KeyObject;
  privateKey: crypto.KeyObject;
  publicKeyPem: string;
  blob: Uint8Array;
  digest: Uint8Array;
  signature: Uint8Array;
}

/** Sign `blob` (random when omitted) with a fresh P-256 key (ECDSA SHA-256, DER). */
export function signBlob(blob: Uint8Array = crypto.randomBytes(64)): SignedBlob {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    publicKey,
    privateKey,
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    blob,
    digest: crypto.createHash("sha256").update(blob).digest(),
    signature: crypto.sign("sha256", blob, privateKey),
  };
}

/** hashedrekord 0.0.1 proposal; `verifierPem` is a public key or certificate PEM. */
export function hashedrekordProposal(
  digest: Uint8Array,
  signature: Uint8Array,
  verifierPem: string,
): Record<string, unknown> {
  return {
    apiVersion: "0.0.1",
    kind: "hashedrekord",
    spec: {
      data: { hash: { algorithm: "sha256", value: Buffer.from(digest).toString("hex") } },
      signature: {
        content: Buffer.from(signature).toString("base64"),
        publicKey: { content: Buffer.from(verifierPem).toString("base64") },
      },
    },
  };
}

/** POST a proposal to `${rekorUrl}/api/v1/log/entries`; returns status, uuid and entry. */
export async function postEntry(
  rekorUrl: string,
  proposal: unknown,
): Promise<
  { status: number; uuid?: string; entry?: RekorLogEntry; text: string; location: string | null }
> {
  const res = await fetch(`${rekorUrl}/api/v1/log/entries`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(proposal),
  });
  const text = await res.text();
  const location = res.headers.get("location");
  if (res.status !== 201) return { status: res.status, text, location };
  const [[uuid, entry]] = Object.entries(JSON.parse(text) as Record<string, RekorLogEntry>);
  return { status: res.status, uuid, entry, text, location };
}

/** GET a Rekor URL and return the single `{uuid: entry}` pair (or the status). */
export async function getEntry(
  url: string,
): Promise<{ status: number; uuid?: string; entry?: RekorLogEntry }> {
  const res = await fetch(url);
  if (res.status !== 200) {
    await res.body?.cancel();
    return { status: res.status };
  }
  const [[uuid, entry]] = Object.entries(await res.json() as Record<string, RekorLogEntry>);
  return { status: res.status, uuid, entry };
}

/**
 * Verify a bundle (JSON form) for `artifact` with the real verifier, trusting
 * `trustedRoot` and, under `keys`, public keys by hint. Throws on failure.
 */
export function verifyBundle(
  bundleJson: unknown,
  artifact: Uint8Array,
  trustedRoot: TrustedRootJson,
  keys: Record<string, crypto.KeyObject> = {},
  policy: VerificationPolicy = {},
  options: { ctlogThreshold?: number; timestampThreshold?: number } = {},
): void {
  installNodeVerifyShim();
  const trustMaterial = toTrustMaterial(
    TrustedRoot.fromJSON(trustedRoot),
    Object.fromEntries(
      Object.entries(keys).map(([hint, key]) => [hint, {
        rawBytes: key.export({ type: "spki", format: "der" }),
        keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
        validFor: undefined,
      }]),
    ),
  );
  const entity = toSignedEntity(bundleFromJSON(bundleJson), Buffer.from(artifact));
  new Verifier(trustMaterial, { tlogThreshold: 1, ...options }).verify(entity, policy);
}
