/**
 * Build Sigstore bundles with `@sigstore/sign`: its `DSSEBundleBuilder`
 * (cosign v3 image signatures, attestations) and
 * `MessageSignatureBundleBuilder` (`sign-blob`, and the signature + log
 * entry of cosign's `.sig` layout) over a {@linkcode Signer} of this
 * project (key file or PKCS#11 token), logged in Rekor by the witness of
 * `lib/transparency/rekor.ts` (the entry `@sigstore/sign` proposes).
 * Nothing is verified here: callers verify the bundle with this project's
 * verifier before publishing it.
 *
 * Two things are set after the builder, both outside what the log signs:
 * the media type is v0.3 (the message builder writes v0.2, for certificate
 * chains; with a key both are the same content, and cosign writes v0.3),
 * and the key hint (base64 SHA-256 of the SPKI, as cosign writes it) goes
 * in `verificationMaterial.publicKey` only: the builder would also copy it
 * into the DSSE signature's `keyid`, which cosign leaves empty.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import type { Bundle } from "../npm/sigstore_bundle.ts";
import { bundleToJSON } from "../npm/sigstore_bundle.ts";
import {
  type Artifact,
  type BundleBuilder,
  DSSEBundleBuilder,
  MessageSignatureBundleBuilder,
  type Signer as SigstoreSigner,
  type Witness,
} from "../npm/sigstore_sign.ts";
import type { Signer } from "../keys/signer.ts";
import { IN_TOTO_PAYLOAD_TYPE } from "../bundle/statement.ts";
import { type RekorEntry, rekorEntryOf, rekorWitness } from "../transparency/rekor.ts";

/** Media type of a v0.3 Sigstore bundle. */
export const BUNDLE_V03_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";

/** `@sigstore/sign`'s signer over one of ours: the signature and the PEM public key. */
export function sigstoreSigner(signer: Signer): SigstoreSigner {
  return {
    sign: async (data) => ({
      signature: Buffer.from(await signer.sign(new Uint8Array(data))),
      key: { $case: "publicKey", publicKey: signer.publicKeyPem() },
    }),
  };
}

/** cosign's key hint: base64 of the SHA-256 of the public key's SPKI DER. */
export function publicKeyHint(publicKeyPem: string): string {
  const spki = crypto.createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
  return crypto.createHash("sha256").update(spki).digest("base64");
}

/** A built bundle (JSON form) and the Rekor entry it carries. */
export interface CreatedBundle {
  bundle: Record<string, unknown>;
  rekor: RekorEntry;
}

async function build(
  make: (witnesses: Witness[]) => BundleBuilder,
  artifact: Artifact,
  signer: Signer,
  rekorUrl: string | undefined,
  rekorProxy?: string,
): Promise<{ built: Bundle; json: Record<string, unknown>; rekor?: RekorEntry }> {
  const witnesses = rekorUrl ? [rekorWitness(rekorUrl, undefined, rekorProxy)] : [];
  const built = await make(witnesses).create(artifact);
  const rekor = rekorUrl
    ? rekorEntryOf(built.verificationMaterial.tlogEntries[0], rekorUrl)
    : undefined;
  const json = bundleToJSON(built) as unknown as Record<string, unknown>;
  const material = json.verificationMaterial as Record<string, unknown>;
  return {
    built,
    rekor,
    json: {
      ...json,
      mediaType: BUNDLE_V03_MEDIA_TYPE,
      verificationMaterial: {
        ...material,
        publicKey: { hint: publicKeyHint(signer.publicKeyPem()) },
      },
    },
  };
}

/** What {@linkcode createDsseBundle} needs. */
export interface DsseBundleInput {
  /** The statement (or any payload) to sign. */
  payload: Uint8Array;
  /** Default `application/vnd.in-toto+json`. */
  payloadType?: string;
  signer: Signer;
  rekorUrl: string;
  /** The proxy Rekor is reached through (default: none). */
  rekorProxy?: string;
}

/**
 * DSSE-sign `payload`, log it in Rekor (`dsse` 0.0.1) and return the v0.3
 * bundle. Not verified here.
 * @throws NetworkError / RegistryError / VerificationError `REKOR_RESPONSE` (Rekor)
 */
export async function createDsseBundle(input: DsseBundleInput): Promise<CreatedBundle> {
  const signer = sigstoreSigner(input.signer);
  const { json, rekor } = await build(
    (witnesses) => new DSSEBundleBuilder({ signer, witnesses }),
    { data: Buffer.from(input.payload), type: input.payloadType ?? IN_TOTO_PAYLOAD_TYPE },
    input.signer,
    input.rekorUrl,
    input.rekorProxy,
  );
  return { bundle: json, rekor: rekor! };
}

/** What {@linkcode createMessageBundle} needs. */
export interface MessageBundleInput {
  /** The bytes signed (the bundle carries their SHA-256). */
  bytes: Uint8Array;
  signer: Signer;
  /** Rekor to log in (`hashedrekord` 0.0.1); undefined: nothing is logged. */
  rekorUrl?: string;
  /** The proxy Rekor is reached through (default: none). */
  rekorProxy?: string;
}

/** A message-signature bundle, its raw signature, and its entry when it was logged. */
export interface CreatedMessageBundle {
  bundle: Record<string, unknown>;
  /** The signature over the bytes (ASN.1 DER ECDSA). */
  signature: Uint8Array;
  rekor?: RekorEntry;
}

/**
 * Sign `bytes`, log the signature in Rekor (`hashedrekord` 0.0.1) unless
 * no `rekorUrl` is given, and return the v0.3 message-signature bundle.
 * Not verified here.
 * @throws NetworkError / RegistryError / VerificationError `REKOR_RESPONSE` (Rekor)
 */
export async function createMessageBundle(
  input: MessageBundleInput,
): Promise<CreatedMessageBundle> {
  const signer = sigstoreSigner(input.signer);
  const { built, json, rekor } = await build(
    (witnesses) => new MessageSignatureBundleBuilder({ signer, witnesses }),
    { data: Buffer.from(input.bytes) },
    input.signer,
    input.rekorUrl,
    input.rekorProxy,
  );
  const content = built.content;
  if (content.$case !== "messageSignature") throw new TypeError("not a message signature");
  return {
    bundle: json,
    signature: new Uint8Array(content.messageSignature.signature),
    ...(rekor ? { rekor } : {}),
  };
}
