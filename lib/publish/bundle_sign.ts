/**
 * Sign an image the cosign v3 way ("new bundle format", cosign's
 * `specs/BUNDLE_SPEC.md`): an in-toto statement of predicate type
 * `https://sigstore.dev/cosign/sign/v1` naming the image digest, DSSE-signed
 * with the key, logged in Rekor as a `dsse` 0.0.1 entry and assembled into a
 * v0.3 Sigstore bundle (`@sigstore/sign`, see `bundle_builders.ts`), verified with this project's own verifier, and only
 * then attached to the image as an OCI 1.1 referrer (an artifact manifest
 * with an empty config and the bundle as its one layer, `subject` = the
 * image), listed in the `sha256-<hex>` fallback tag index as well.
 *
 * The statement and the referrer push are exported for tests that need
 * bundles the verifier must refuse (another predicate type, another payload
 * type).
 *
 * @module
 */

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
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  type VerifiedBundleSignature,
  verifyBundleSignature,
} from "../signatures/bundle_signature.ts";
import { isRecord } from "../json/record.ts";
import type { RekorEntry } from "../transparency/rekor.ts";
import { BUNDLE_V03_MEDIA_TYPE, createDsseBundle } from "./bundle_builders.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import { parseTrustedKey } from "../trust/trusted_key.ts";

/** The in-toto Statement v1 type. */
const STATEMENT_V1 = "https://in-toto.io/Statement/v1";

const encoder = new TextEncoder();
const EMPTY_JSON = encoder.encode("{}");
const EMPTY_DESCRIPTOR: Descriptor = {
  mediaType: OCI_EMPTY,
  digest: sha256Digest(EMPTY_JSON),
  size: EMPTY_JSON.byteLength,
};

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
  /** The proxy Rekor is reached through (the run's `--proxy` / Tor on Tails; default none). */
  rekorProxy?: string;
  /** Trusted root the bundle must verify against before anything is pushed. */
  trustedRoot: LoadedTrustedRoot;
}

/** What was signed and published. */
export interface BundleSignResult {
  bundle: Record<string, unknown>;
  rekor: RekorEntry;
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
    rekorProxy: req.rekorProxy,
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
