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
 * `artifactType`, which is where `findBundles` looks in a layout.
 *
 * @module
 */

import { UsageError, VerificationError } from "../errors/errors.ts";
import type { Progress } from "../progress/progress.ts";
import type { Manifest } from "../registry/client.ts";
import type { ImageSource } from "../image/source.ts";
import type { RegistryReference } from "../registry/reference.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import { signatureManifestFor } from "../publish/signature_manifest.ts";
import {
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  isIndexType,
  OCI_MANIFEST,
  type Platform,
} from "../oci/media_types.ts";
import { COSIGN_KIND, REF_NAME } from "../oci/layout.ts";
import { formatPlatform, parsePlatform, platformMatches } from "../oci/platform.ts";
import { KIND } from "./layout_tar.ts";
import { type ArchivePlan, writeArchive } from "./write.ts";
import {
  requireVerified,
  type Verified,
  verifiedCount,
  verifiedFor,
} from "./archive_signatures.ts";

/** Input of {@linkcode prepareArchive}. */
export interface PrepareRequest {
  /** The registry the image comes from. */
  source: ImageSource;
  /** The image as the user named it (tag and/or digest). */
  reference: RegistryReference;
  output: string;
  /** `os/arch[/variant]` the user asked for; ignored with `allPlatforms`. */
  platform?: string;
  /** The platform to keep when none is asked for (this machine's; default `linux/amd64`). */
  defaultPlatform?: string;
  allPlatforms?: boolean;
  /** Never replace an existing `output` (the command's default, unless `--force`). */
  noClobber?: boolean;
  key: TrustedKey;
  trustedRoot: LoadedTrustedRoot;
  /** The TUF chain behind `trustedRoot`, carried for the air-gapped side (`load-archive`). */
  tufChain?: ReadonlyMap<string, Uint8Array>;
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
  /** Digest of the signed image in the archive (platform manifest, or index). */
  digest: string;
  /** The index the platform manifest was chosen from, when the archive holds a platform manifest of one. */
  indexDigest?: string;
  /** Why Dangerzone's own `load-archive` could not install this archive, if it could not. */
  dangerzoneIncompatible?: string;
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
  /** Whether the TUF chain of the trusted root travels in the archive. */
  tufChain: boolean;
  /** Verified transparency-log positions. */
  tlog: { logID: string; logIndex: number; integratedTime: number }[];
}

const decoder = new TextDecoder();

function parse<T>(m: Manifest): T {
  return JSON.parse(decoder.decode(m.bytes)) as T;
}

function matches(want: Platform, have: Platform | undefined): boolean {
  return have !== undefined && platformMatches(have, want);
}

function manifestDescriptor(m: Manifest): Descriptor {
  return { mediaType: m.mediaType, digest: m.digest, size: m.size };
}

/**
 * Fetch, verify, then write the archive.
 *
 * For an image index and one platform, the archive holds what Dangerzone's
 * `prepare-archive` saves: that platform's manifest, with its own
 * signatures (images signed with `sign --recursive`). When only the index
 * is signed, it holds the signed index instead, with that platform's
 * blobs only (our `load-archive` installs it; Dangerzone's cannot, which
 * is said).
 */
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
  const wanted = req.platform ?? req.defaultPlatform ?? "linux/amd64";

  // 1. What to archive, and its signatures and bundles, verified before anything else happens.
  let image: Manifest = top;
  let chosen: Descriptor[] | undefined;
  let indexDigest: string | undefined;
  let v: Verified | undefined;
  const incompatible: string[] = [];
  if (isIndexType(top.mediaType)) {
    const idx = parse<ImageIndex>(top);
    const want = req.allPlatforms ? undefined : parsePlatform(wanted);
    chosen = idx.manifests.filter((d) => want === undefined || matches(want, d.platform));
    if (chosen.length === 0) {
      const have = idx.manifests.filter((d) => d.platform).map((d) => formatPlatform(d.platform!));
      throw new UsageError(
        `${source.name}@${top.digest} has no ${wanted} image (it has ${have.join(", ") || "none"})`,
        { hint: "choose one with --platform, or --all-platforms" },
      );
    }
    if (!req.allPlatforms) {
      chosen = chosen.slice(0, 1);
      const platformManifest = await source.manifest(chosen[0].digest);
      if (isIndexType(platformManifest.mediaType)) {
        throw new VerificationError(
          "MANIFEST_INVALID",
          `nested index ${chosen[0].digest} not supported`,
        );
      }
      const own = await verifiedFor(req, platformManifest.digest);
      if (verifiedCount(own) > 0) {
        // Dangerzone's way: the platform manifest itself, signed (sign --recursive).
        image = platformManifest;
        indexDigest = top.digest;
        v = own;
        chosen = undefined;
      } else {
        progress?.note(
          `note: the ${wanted} manifest ${platformManifest.digest} has no signature that verifies; archiving the signed index`,
        );
        incompatible.push(
          "Dangerzone's load-archive needs the platform manifest signed (sign --recursive)",
        );
      }
    } else {
      incompatible.push("Dangerzone's load-archive expects one platform manifest");
    }
  }
  v ??= await verifiedFor(req, image.digest);
  requireVerified(v, source.name);
  const digest = image.digest;
  const verified = v.signatures;
  const verifiedLayers = v.layers;
  const verifiedBundles = v.bundles;
  progress?.note(`verified ${verifiedCount(v)} of ${v.found} signature(s) for ${digest}`);
  if (verifiedLayers.length === 0) {
    incompatible.push("Dangerzone's load-archive reads only cosign .sig signatures");
  } else if (
    verifiedLayers.some((l) => !l.annotations?.["dev.sigstore.cosign/bundle"])
  ) {
    incompatible.push("Dangerzone's load-archive needs a Rekor bundle on every signature");
  }

  // 2. The image, reduced to the platforms asked for.
  const documents = new Map<string, Uint8Array>();
  const blobs: Descriptor[] = [];
  const platforms: string[] = [];
  documents.set(image.digest, image.bytes);
  const addImage = (m: Manifest) => {
    const doc = parse<ImageManifest>(m);
    if (!doc.config || !Array.isArray(doc.layers)) {
      throw new VerificationError("MANIFEST_INVALID", `manifest ${m.digest} is not an image`);
    }
    documents.set(m.digest, m.bytes);
    blobs.push(doc.config, ...doc.layers);
  };
  if (chosen) {
    for (const d of chosen) {
      const m = await source.manifest(d.digest);
      if (isIndexType(m.mediaType)) {
        throw new VerificationError("MANIFEST_INVALID", `nested index ${d.digest} not supported`);
      }
      addImage(m);
      if (d.platform) platforms.push(formatPlatform(d.platform));
    }
  } else {
    addImage(image);
    const cfgBytes = await source.blobBytes(parse<ImageManifest>(image).config);
    const cfg = JSON.parse(decoder.decode(cfgBytes)) as Partial<Platform>;
    const have = cfg.os && cfg.architecture ? formatPlatform(cfg as Platform) : undefined;
    if (
      req.platform && !req.allPlatforms && !indexDigest &&
      !matches(parsePlatform(req.platform), cfg as Platform)
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
    ...manifestDescriptor(image),
    // Only cosign save's `kind`, as in Dangerzone's archives: the name to
    // install under is the signed one (the payload's docker-reference).
    // Sigstore bundles carry no such name, so a bundle-only archive (which
    // Dangerzone cannot read anyway) also names its image.
    annotations: {
      [COSIGN_KIND]: isIndexType(image.mediaType) ? KIND.imageIndex : KIND.image,
      ...(verifiedLayers.length === 0 ? { [REF_NAME]: fullName } : {}),
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

  const plan: ArchivePlan = {
    index,
    documents,
    blobs,
    ...(req.tufChain ? { tuf: req.tufChain } : {}),
    repoTag: `${reference.registry}/${reference.repository}:${reference.tag ?? "latest"}`,
  };
  const written = await writeArchive(req.output, source, plan, {
    progress,
    signal: req.signal,
    noClobber: req.noClobber,
  });
  return {
    reference: fullName,
    digest,
    ...(indexDigest ? { indexDigest } : {}),
    ...(incompatible.length > 0 ? { dangerzoneIncompatible: incompatible.join("; ") } : {}),
    platforms,
    blobs: written.blobs,
    bytes: written.bytes,
    signatures: verified.length + verifiedBundles.length,
    verifiedSignatures: verified.length + verifiedBundles.length,
    bundles: verifiedBundles.length,
    attestations,
    tufChain: (req.tufChain?.size ?? 0) > 0,
    tlog: [
      ...verified.flatMap((v) => v.tlog ? [v.tlog] : []),
      ...verifiedBundles.map((b) => b.result.tlog),
    ].map((t) => ({ logID: t.logID, logIndex: t.logIndex, integratedTime: t.integratedTime })),
  };
}
