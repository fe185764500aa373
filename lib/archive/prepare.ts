/**
 * `prepare-archive`'s logic: resolve the image, fetch its cosign signatures,
 * its Sigstore bundles (cosign v3 signatures, via referrers) and its
 * attestations, verify the signatures and bundles with the trusted key
 * BEFORE anything is written, choose the platforms to keep, and stream
 * everything into the archive.
 *
 * Only what verified travels: the `.sig` manifest is rebuilt from the
 * verified signature layers (and left out when there are none), and each
 * verified bundle's referrer manifest (with its config and layer blobs) is
 * a top-level `index.json` entry of kind {@linkcode BUNDLE_KIND} with its
 * `artifactType`, which is where `fetchSigstoreBundles` looks in a layout.
 *
 * @module
 */

import { UsageError, VerificationError } from "../cli/errors.ts";
import type { Progress } from "../cli/progress.ts";
import type { Manifest } from "../registry/client.ts";
import type { ImageSource } from "../image/source.ts";
import { fetchCosignSignatureLayers } from "../image/signatures.ts";
import { fetchSigstoreBundles } from "../image/bundles.ts";
import {
  type VerifiedBundleSignature,
  verifyBundleSignatures,
} from "../signatures/bundle_signature.ts";
import { signatureManifestFor } from "../publish/signature_manifest.ts";
import {
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  isIndexType,
  OCI_MANIFEST,
  type Platform,
} from "../registry/media_types.ts";
import type { RegistryReference } from "../registry/reference.ts";
import { CONTAINERD_NAME, COSIGN_KIND, REF_NAME } from "../oci/layout.ts";
import { type VerifiedSignature, verifyCosignSignatures } from "../signatures/verify.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import { KIND } from "./layout_tar.ts";
import { type ArchivePlan, writeArchive } from "./write.ts";

/** Input of {@linkcode prepareArchive}. */
export interface PrepareRequest {
  /** The registry the image comes from. */
  source: ImageSource;
  /** The image as the user named it (tag and/or digest). */
  reference: RegistryReference;
  output: string;
  /** `os/arch[/variant]` to keep (default `linux/amd64`); ignored with `allPlatforms`. */
  platform?: string;
  allPlatforms?: boolean;
  key: TrustedKey;
  trustedRoot: LoadedTrustedRoot;
  progress?: Progress;
  signal?: AbortSignal;
}

/**
 * `kind` annotation of a Sigstore bundle referrer in the archive's index
 * (not one of cosign's image kinds, so readers looking for the image skip it).
 */
export const BUNDLE_KIND = "dev.sigstore.bundle/referrer";

/** What {@linkcode prepareArchive} did. */
export interface PrepareResult {
  /** The full reference recorded in the archive (`registry/repo[:tag]@digest`). */
  reference: string;
  /** Digest of the signed image (index or manifest). */
  digest: string;
  /** Platforms kept (`os/arch[/variant]`); empty for a single manifest without platform. */
  platforms: string[];
  blobs: number;
  bytes: number;
  /** Signatures carried (of both kinds), and how many verified. */
  signatures: number;
  verifiedSignatures: number;
  /** How many of them are Sigstore bundles. */
  bundles: number;
  attestations: boolean;
  /** Verified transparency-log positions. */
  tlog: { logID: string; logIndex: number; integratedTime: number }[];
}

const decoder = new TextDecoder();

function parse<T>(m: Manifest): T {
  return JSON.parse(decoder.decode(m.bytes)) as T;
}

/** `os/arch[/variant]` of a platform. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/** Parse `os/arch[/variant]`. */
export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw new UsageError(`--platform must be OS/ARCH[/VARIANT], not '${s}'`);
  }
  return { os: parts[0], architecture: parts[1], ...(parts[2] ? { variant: parts[2] } : {}) };
}

function matches(want: Platform, have: Platform | undefined): boolean {
  return have !== undefined && have.os === want.os && have.architecture === want.architecture &&
    (want.variant === undefined || have.variant === want.variant);
}

function manifestDescriptor(m: Manifest): Descriptor {
  return { mediaType: m.mediaType, digest: m.digest, size: m.size };
}

/** Fetch, verify, then write the archive. */
export async function prepareArchive(req: PrepareRequest): Promise<PrepareResult> {
  const { source, reference } = req;
  const progress = req.progress;
  const top = await source.resolve();
  if (reference.digest && top.digest !== reference.digest) {
    throw new VerificationError(
      "DIGEST_MISMATCH",
      `the registry served ${top.digest} for ${reference.digest}`,
    );
  }
  const digest = top.digest;

  // 1. Signatures and bundles, verified before anything else happens.
  const sigLayers = await fetchCosignSignatureLayers(source, digest);
  const sigs = sigLayers.map((s) => s.signature);
  const found = await fetchSigstoreBundles(source, digest);
  for (const f of found) {
    if (!f.ok) progress?.note(`warning: ${f.error.message}; left out`);
  }
  const readable = found.flatMap((f) => f.ok ? [f] : []);
  if (sigs.length === 0 && readable.length === 0) {
    throw new VerificationError("NO_SIGNATURES", `${source.name}@${digest} has no signatures`, {
      hint: "only signed images can be archived",
    });
  }
  const verified: VerifiedSignature[] = [];
  const verifiedLayers: Descriptor[] = [];
  let firstFailure: string | undefined;
  if (sigs.length > 0) {
    const verification = verifyCosignSignatures(sigs, digest, {
      trustedRoot: req.trustedRoot,
      key: req.key,
    });
    for (const r of verification.reports) {
      if (r.ok) {
        verified.push(r.result);
        verifiedLayers.push(sigLayers[r.index].layer);
      } else {
        firstFailure ??= r.reason;
        progress?.note(
          `warning: signature ${r.index + 1} does not verify and is left out: ${r.reason}`,
        );
      }
    }
  }
  const verifiedBundles: { result: VerifiedBundleSignature; manifestDigest: string }[] = [];
  const bundleReports = verifyBundleSignatures(readable.map((f) => f.bundle), digest, {
    trustedRoot: req.trustedRoot,
    key: req.key,
  });
  for (const r of bundleReports) {
    if (r.ok) {
      verifiedBundles.push({ result: r.result, manifestDigest: readable[r.index].manifestDigest });
    } else {
      firstFailure ??= r.reason;
      progress?.note(
        `warning: bundle ${readable[r.index].origin} does not verify and is left out: ${r.reason}`,
      );
    }
  }
  if (verified.length + verifiedBundles.length === 0) {
    throw new VerificationError(
      "SIGNATURE_INVALID",
      `no signature of ${source.name}@${digest} verifies with the trusted key${
        firstFailure ? `: ${firstFailure}` : ""
      }`,
      { hint: "check --key and --trusted-root; nothing was written" },
    );
  }
  progress?.note(
    `verified ${verified.length + verifiedBundles.length} of ${
      sigs.length + found.length
    } signature(s) for ${digest}`,
  );

  // 2. The image, reduced to the platforms asked for.
  const documents = new Map<string, Uint8Array>();
  const blobs: Descriptor[] = [];
  const platforms: string[] = [];
  documents.set(top.digest, top.bytes);
  const addImage = (m: Manifest) => {
    const doc = parse<ImageManifest>(m);
    if (!doc.config || !Array.isArray(doc.layers)) {
      throw new VerificationError("MANIFEST_INVALID", `manifest ${m.digest} is not an image`);
    }
    documents.set(m.digest, m.bytes);
    blobs.push(doc.config, ...doc.layers);
  };
  if (isIndexType(top.mediaType)) {
    const idx = parse<ImageIndex>(top);
    const want = req.allPlatforms ? undefined : parsePlatform(req.platform ?? "linux/amd64");
    const chosen = idx.manifests.filter((d) => want === undefined || matches(want, d.platform));
    if (chosen.length === 0) {
      const have = idx.manifests.filter((d) => d.platform).map((d) => formatPlatform(d.platform!));
      throw new UsageError(
        `${source.name}@${digest} has no ${req.platform ?? "linux/amd64"} image (it has ${
          have.join(", ") || "none"
        })`,
        { hint: "choose one with --platform, or --all-platforms" },
      );
    }
    for (const d of chosen) {
      const m = await source.manifest(d.digest);
      if (isIndexType(m.mediaType)) {
        throw new VerificationError("MANIFEST_INVALID", `nested index ${d.digest} not supported`);
      }
      addImage(m);
      if (d.platform) platforms.push(formatPlatform(d.platform));
    }
  } else {
    addImage(top);
    const cfgBytes = await source.blobBytes(parse<ImageManifest>(top).config);
    const cfg = JSON.parse(decoder.decode(cfgBytes)) as Partial<Platform>;
    const have = cfg.os && cfg.architecture ? formatPlatform(cfg as Platform) : undefined;
    if (
      req.platform && !req.allPlatforms && !matches(parsePlatform(req.platform), cfg as Platform)
    ) {
      throw new UsageError(
        `${source.name}@${digest} is a ${have ?? "platform-less"} image, not ${req.platform}`,
      );
    }
    if (have) platforms.push(have);
  }

  // 3. cosign artifacts: the signature manifest and attestations, when present.
  const fullName = `${reference.registry}/${reference.repository}${
    reference.tag ? `:${reference.tag}` : ""
  }@${digest}`;
  const index: Descriptor[] = [{
    ...manifestDescriptor(top),
    annotations: {
      [COSIGN_KIND]: isIndexType(top.mediaType) ? KIND.imageIndex : KIND.image,
      [REF_NAME]: fullName,
      [CONTAINERD_NAME]: fullName,
    },
  }];
  let attestations = false;
  // Only the signatures that verified travel: the archive's `.sig` manifest
  // is rebuilt from their layers, in cosign's format.
  if (verifiedLayers.length > 0) {
    const sigsManifest = signatureManifestFor(verifiedLayers);
    documents.set(sigsManifest.digest, sigsManifest.bytes);
    documents.set(sigsManifest.config.digest, sigsManifest.configBytes);
    blobs.push(...verifiedLayers);
    index.push({
      mediaType: OCI_MANIFEST,
      digest: sigsManifest.digest,
      size: sigsManifest.bytes.byteLength,
      annotations: { [COSIGN_KIND]: KIND.sigs },
    });
  }
  // Only the bundles that verified travel, each with its referrer manifest.
  for (const b of verifiedBundles) {
    if (documents.has(b.manifestDigest)) continue;
    const m = await source.manifest(b.manifestDigest);
    const doc = parse<ImageManifest & { artifactType?: string }>(m);
    if (!doc.config || !Array.isArray(doc.layers)) {
      throw new VerificationError("MANIFEST_INVALID", `referrer ${m.digest} is malformed`);
    }
    documents.set(m.digest, m.bytes);
    blobs.push(doc.config, ...doc.layers);
    index.push({
      mediaType: OCI_MANIFEST,
      digest: m.digest,
      size: m.size,
      ...(doc.artifactType ? { artifactType: doc.artifactType } : {}),
      annotations: { [COSIGN_KIND]: BUNDLE_KIND },
    });
  }
  for (const kind of ["atts"] as const) {
    const m = await source.cosignArtifact(digest, kind);
    if (!m) continue;
    if (kind === "atts") attestations = true;
    const doc = parse<ImageManifest>(m);
    documents.set(m.digest, m.bytes);
    if (doc.config) blobs.push(doc.config);
    blobs.push(...(doc.layers ?? []));
    index.push({ ...manifestDescriptor(m), annotations: { [COSIGN_KIND]: KIND[kind] } });
  }

  const plan: ArchivePlan = { index, documents, blobs };
  const written = await writeArchive(req.output, source, plan, {
    progress,
    signal: req.signal,
  });
  return {
    reference: fullName,
    digest,
    platforms,
    blobs: written.blobs,
    bytes: written.bytes,
    signatures: verified.length + verifiedBundles.length,
    verifiedSignatures: verified.length + verifiedBundles.length,
    bundles: verifiedBundles.length,
    attestations,
    tlog: [
      ...verified.flatMap((v) => v.tlog ? [v.tlog] : []),
      ...verifiedBundles.map((b) => b.result.tlog),
    ].map((t) => ({ logID: t.logID, logIndex: t.logIndex, integratedTime: t.integratedTime })),
  };
}
