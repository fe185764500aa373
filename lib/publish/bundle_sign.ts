/**
 * Sign an image the cosign v3 way ("new bundle format", cosign's
 * `specs/BUNDLE_SPEC.md`): an in-toto statement of predicate type
 * `https://sigstore.dev/cosign/sign/v1` naming the image digest, DSSE-signed
 * with the key, logged in Rekor as a `dsse` 0.0.1 entry, assembled into a
 * v0.3 Sigstore bundle, verified with this project's own verifier, and only
 * then attached to the image as an OCI 1.1 referrer (an artifact manifest
 * with an empty config and the bundle as its one layer, `subject` = the
 * image), listed in the `sha256-<hex>` fallback tag index as well.
 *
 * The lower-level pieces are exported for tests that need bundles the
 * verifier must refuse (another predicate type, another payload type).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { dsse } from "../npm/sigstore_core.ts";
import type { Signer } from "../keys/signer.ts";
import type { RegistryClient } from "../registry/client.ts";
import { referrersTag } from "../registry/cosign_tags.ts";
import { isSha256Hex, sha256Digest } from "../digest/digest.ts";
import {
  type Descriptor,
  type ImageIndex,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
} from "../oci/media_types.ts";
import { IN_TOTO_PAYLOAD_TYPE } from "../bundle/statement.ts";
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  type VerifiedBundleSignature,
  verifyBundleSignature,
} from "../signatures/bundle_signature.ts";
import { isRecord } from "../json/record.ts";
import {
  bundleTlogEntry,
  type RekorEntry as RekorV1Entry,
  uploadDsseEntry,
} from "../transparency/rekor_dsse.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import { parseTrustedKey } from "../trust/trusted_key.ts";

/** Media type (and artifact type) of a v0.3 Sigstore bundle. */
export const BUNDLE_V03_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";

/** The in-toto Statement v1 type. */
const STATEMENT_V1 = "https://in-toto.io/Statement/v1";

const encoder = new TextEncoder();
const EMPTY_JSON = encoder.encode("{}");
const EMPTY_DESCRIPTOR: Descriptor = {
  mediaType: OCI_EMPTY,
  digest: sha256Digest(EMPTY_JSON),
  size: EMPTY_JSON.byteLength,
};

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/** cosign v3's signing statement for an image digest (`predicate: {}`). */
export function cosignSignStatement(
  digest: string,
  predicateType = COSIGN_SIGN_PREDICATE_TYPE,
): Uint8Array {
  const hex = digest.replace(/^sha256:/, "");
  if (!isSha256Hex(hex)) throw new TypeError(`not a sha256 digest: ${digest}`);
  return encoder.encode(JSON.stringify({
    _type: STATEMENT_V1,
    subject: [{ digest: { sha256: hex } }],
    predicateType,
    predicate: {},
  }));
}

/** What {@linkcode createDsseBundle} needs. */
export interface DsseBundleInput {
  /** The statement (or any payload) to sign. */
  payload: Uint8Array;
  /** Default `application/vnd.in-toto+json`. */
  payloadType?: string;
  signer: Signer;
  rekorUrl: string;
}

/** A DSSE bundle and the Rekor entry it carries. */
export interface CreatedBundle {
  bundle: Record<string, unknown>;
  rekor: RekorV1Entry;
}

/**
 * DSSE-sign `payload` (signature over the DSSE pre-authentication encoding),
 * log it in Rekor (`dsse` 0.0.1) and assemble the v0.3 bundle (public-key
 * hint = base64 SHA-256 of the key's SPKI). Not verified here.
 */
export async function createDsseBundle(input: DsseBundleInput): Promise<CreatedBundle> {
  const payloadType = input.payloadType ?? IN_TOTO_PAYLOAD_TYPE;
  const pae = dsse.preAuthEncoding(payloadType, Buffer.from(input.payload));
  const sig = await input.signer.sign(new Uint8Array(pae));
  const envelope = {
    payloadType,
    payload: b64(input.payload),
    signatures: [{ keyid: "", sig: b64(sig) }],
  };
  const publicKeyPem = input.signer.publicKeyPem();
  const rekor = await uploadDsseEntry(input.rekorUrl, JSON.stringify(envelope), publicKeyPem);
  const spki = crypto.createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
  const hint = crypto.createHash("sha256").update(spki).digest("base64");
  return {
    rekor,
    bundle: {
      mediaType: BUNDLE_V03_MEDIA_TYPE,
      verificationMaterial: {
        publicKey: { hint },
        tlogEntries: [bundleTlogEntry(rekor)],
        timestampVerificationData: { rfc3161Timestamps: [] },
      },
      dsseEnvelope: envelope,
    },
  };
}

/** What {@linkcode pushBundleReferrer} needs. */
export interface PushBundleInput {
  client: RegistryClient;
  repository: string;
  /** The image the bundle is attached to (must exist). */
  digest: string;
  /** The bundle JSON document. */
  bundle: unknown;
  /** Recorded in the `dev.sigstore.bundle.predicateType` annotation. */
  predicateType?: string;
}

/** Where the bundle was attached. */
export interface PushedBundle {
  /** Digest of the referrer (artifact) manifest. */
  manifestDigest: string;
  /** Entries of the fallback tag index after the update. */
  referrers: number;
  /** Whether the fallback index gained this entry (false: it was already listed). */
  added: boolean;
}

/**
 * Push the bundle as a referrer of `digest` (config = the empty descriptor,
 * one layer = the bundle, `subject` = the image) and list it in the
 * `sha256-<hex>` fallback tag index (existing entries kept). Nothing checks
 * the bundle here: {@linkcode signImageBundle} verifies before calling this.
 */
export async function pushBundleReferrer(input: PushBundleInput): Promise<PushedBundle> {
  const { client, repository } = input;
  const image = await client.getManifest(repository, input.digest);
  const bundleBytes = encoder.encode(JSON.stringify(input.bundle));
  const layer: Descriptor = {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    digest: sha256Digest(bundleBytes),
    size: bundleBytes.byteLength,
  };
  await client.uploadBlob(repository, EMPTY_DESCRIPTOR, EMPTY_JSON);
  await client.uploadBlob(repository, layer, bundleBytes);
  const annotations = {
    "dev.sigstore.bundle.content": "dsse-envelope",
    "dev.sigstore.bundle.predicateType": input.predicateType ?? COSIGN_SIGN_PREDICATE_TYPE,
  };
  const manifest = encoder.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: BUNDLE_V03_MEDIA_TYPE,
    config: EMPTY_DESCRIPTOR,
    layers: [layer],
    subject: { mediaType: image.mediaType, digest: image.digest, size: image.size },
    annotations,
  }));
  const manifestDigest = await client.putManifest(
    repository,
    sha256Digest(manifest),
    manifest,
    OCI_MANIFEST,
  );

  // The fallback tag index: append to what is there.
  const tag = referrersTag(input.digest);
  let manifests: Descriptor[] = [];
  if (await client.headManifest(repository, tag) !== undefined) {
    const existing = await client.getManifest(repository, tag, [OCI_INDEX]);
    const doc = JSON.parse(new TextDecoder().decode(existing.bytes)) as Partial<ImageIndex>;
    manifests = Array.isArray(doc.manifests) ? doc.manifests.filter(isRecord) : [];
  }
  const added = !manifests.some((m) => m.digest === manifestDigest);
  if (added) {
    manifests.push({
      mediaType: OCI_MANIFEST,
      digest: manifestDigest,
      size: manifest.byteLength,
      artifactType: BUNDLE_V03_MEDIA_TYPE,
      annotations,
    });
  }
  const index = encoder.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests,
  }));
  await client.putManifest(repository, tag, index, OCI_INDEX);
  return { manifestDigest, referrers: manifests.length, added };
}

/** What to sign and how. */
export interface BundleSignRequest {
  client: RegistryClient;
  repository: string;
  /** Image (or index) manifest digest; must exist in the repository. */
  digest: string;
  signer: Signer;
  /** Rekor to log in (a bundle without a log entry cannot pass `upgrade`). */
  rekorUrl: string;
  /** Trusted root the bundle must verify against before anything is pushed. */
  trustedRoot: LoadedTrustedRoot;
}

/** What was signed and published. */
export interface BundleSignResult {
  bundle: Record<string, unknown>;
  rekor: RekorV1Entry;
  verified: VerifiedBundleSignature;
  manifestDigest: string;
  referrers: number;
  added: boolean;
}

/** Sign, log, self-verify, publish. Nothing is pushed unless the bundle verifies. */
export async function signImageBundle(req: BundleSignRequest): Promise<BundleSignResult> {
  // The image must exist: getManifest checks its bytes hash to the digest.
  await req.client.getManifest(req.repository, req.digest);
  const { bundle, rekor } = await createDsseBundle({
    payload: cosignSignStatement(req.digest),
    signer: req.signer,
    rekorUrl: req.rekorUrl,
  });
  const key = parseTrustedKey(encoder.encode(req.signer.publicKeyPem()), "the signing key");
  // Verify what we are about to publish, exactly as `upgrade` will.
  const verified = verifyBundleSignature(bundle, req.digest, {
    trustedRoot: req.trustedRoot,
    key,
  });
  const pushed = await pushBundleReferrer({
    client: req.client,
    repository: req.repository,
    digest: req.digest,
    bundle,
  });
  return { bundle, rekor, verified, ...pushed };
}
