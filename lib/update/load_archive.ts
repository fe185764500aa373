/**
 * `load-archive`'s logic, fully offline: unpack and check the archive
 * (`read.ts`), find the one image it carries and the digest its signatures
 * must bind, verify those signatures (cosign `.sig` signatures and Sigstore
 * bundles, every one the archive carries) with the trusted key and the LOCAL
 * trusted root (nothing in the archive about keys is read; a TUF chain it
 * carries replaces the local root only through `carriedTrust`, which
 * verifies it from this machine's TUF root first),
 * refuse a rollback unless forced, and only then hand everything to the
 * shared update pipeline, which loads the image into the runtime and
 * stores signatures and rollback state.
 *
 * @module
 */

import { UsageError, VerificationError } from "../errors/errors.ts";
import { acceptedIdentities, repositoryOf } from "../signatures/signed_identity.ts";
import type { Progress } from "../progress/progress.ts";
import { applyVerifiedUpdate } from "./apply.ts";
import { verifySignatureReports } from "./verified_set.ts";
import { mergeBundles } from "./merge_signatures.ts";
import type { UpdateResult } from "./update_request.ts";
import { findBundles, findSignatures, requireWellFormed } from "../image/discovery.ts";
import { COSIGN_KIND, REF_NAME } from "../oci/layout.ts";
import { type Descriptor, type ImageIndex, isIndexType } from "../oci/media_types.ts";
import { parseRegistryReference } from "../registry/reference.ts";
import type { ContainerRuntime } from "../runtime/runtime.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import { ArchiveError, type ArchiveLimits, KIND } from "../archive/layout_tar.ts";
import { openArchive } from "../archive/read.ts";
import {
  defaultPlatform,
  formatPlatform,
  parsePlatform,
  platformMatches,
} from "../oci/platform.ts";

/** Input of {@linkcode loadArchive}. */
export interface LoadArchiveRequest {
  path: string;
  dataDir: string;
  key: TrustedKey;
  trustedRoot: LoadedTrustedRoot;
  /**
   * Verify the TUF chain the archive carries (from this machine's TUF root,
   * never from the archive) and return its trusted root, or `undefined`
   * when it is refused (then `trustedRoot` is used). Absent with `--trusted-root`.
   */
  carriedTrust?: (files: ReadonlyMap<string, Uint8Array>) => Promise<LoadedTrustedRoot | undefined>;
  runtime: ContainerRuntime;
  /** Allow a rollback (and nothing else). */
  force?: boolean;
  /** `os/arch[/variant]` to load from a multi-platform archive (default: this machine's). */
  platform?: string;
  /** When given, the archive's signed identity must be one of these (`--signed-identity`). */
  signedIdentities?: readonly string[];
  progress?: Progress;
  limits?: Partial<ArchiveLimits>;
  /** `--keep-old`: leave the previous image in the runtime. */
  keepOld?: boolean;
}

/** What {@linkcode loadArchive} did. */
export interface LoadArchiveResult extends UpdateResult {
  /** Name the image was installed under. */
  imageName: string;
  /** Platform loaded, when the image is an index. */
  platform?: string;
  /** Signatures carried and verified, of both kinds. */
  signatures: number;
  /** Source of the trusted root the signatures verified with. */
  trustedRoot: string;
}

/** The image entry of a layout index: cosign's `image`/`imageIndex`, or the only entry. */
export function imageEntry(index: ImageIndex): Descriptor {
  const kinds = index.manifests.filter((m) => m.annotations?.[COSIGN_KIND] !== undefined);
  const images = kinds.length === 0 ? index.manifests : index.manifests.filter((m) => {
    const k = m.annotations?.[COSIGN_KIND];
    return k === KIND.image || k === KIND.imageIndex;
  });
  if (images.length !== 1) {
    throw new ArchiveError(`the archive holds ${images.length} images; exactly one is expected`);
  }
  return images[0];
}

/** Check and load an archive; see the module doc. */
export async function loadArchive(req: LoadArchiveRequest): Promise<LoadArchiveResult> {
  const progress = req.progress;
  await req.runtime.check(); // before unpacking anything: is the runtime there?
  const { source, archive } = await openArchive(req.path, req.dataDir, {
    limits: req.limits,
    progress,
  });
  try {
    let trustedRoot = req.trustedRoot;
    if (req.carriedTrust && archive.tuf.size > 0) {
      const carried = await req.carriedTrust(archive.tuf);
      if (carried) {
        trustedRoot = carried;
        progress?.note(
          `using the archive's trusted root, verified from this machine's: ${carried.source}`,
        );
      }
    }
    const entry = imageEntry(archive.index);
    const signedDigest = entry.digest;

    // Signatures and bundles: verified here with this machine's key and root only.
    // prepare-archive carries only what verified, so anything that fails is tampering.
    const sigs = requireWellFormed(await findSignatures(source, signedDigest)).map((f) =>
      f.signature
    );
    const found = await findBundles(source, signedDigest);
    const unreadable = found.find((f) => !f.ok);
    if (unreadable && !unreadable.ok) {
      throw new VerificationError(
        unreadable.error.code,
        `a bundle in the archive is unusable: ${unreadable.error.message}`,
        { hint: "the archive was altered; nothing was loaded" },
      );
    }
    const bundles = found.flatMap((f) => f.ok ? [f.bundle] : []);
    if (sigs.length === 0 && bundles.length === 0) {
      throw new VerificationError(
        "NO_SIGNATURES",
        `the archive carries no signatures for ${signedDigest}`,
        { hint: "prepare the archive with 'prepare-archive' from a signed image" },
      );
    }
    // Verified once, here, with this machine's key and root; the update pipeline
    // takes these reports as they are. Every entry must verify.
    const verification = verifySignatureReports(
      sigs,
      signedDigest,
      req.key,
      trustedRoot,
      mergeBundles([], bundles),
    );
    const bad = verification.reports.find((r) => !r.ok);
    if (bad && !bad.ok) {
      throw new VerificationError(
        bad.code,
        `signature ${
          bad.index + 1
        } in the archive does not verify for ${signedDigest}: ${bad.reason}`,
        { hint: "the archive was altered or signed by another key; nothing was loaded" },
      );
    }
    const badBundle = verification.bundleReports.find((r) => !r.ok);
    if (badBundle && !badBundle.ok) {
      throw new VerificationError(
        badBundle.code,
        `bundle ${
          badBundle.index + 1
        } in the archive does not verify for ${signedDigest}: ${badBundle.reason}`,
        { hint: "the archive was altered or signed by another key; nothing was loaded" },
      );
    }
    // The first signature's signed identity, as the verifier read it (Dangerzone takes the first).
    let signedRef: string | undefined;
    const first = verification.reports[0];
    if (first) signedRef = first.ok ? first.result.dockerReference : undefined;
    else {
      for (const r of verification.bundleReports) if (r.ok) signedRef ??= r.result.dockerReference;
    }
    progress?.note(
      `verified ${sigs.length + bundles.length} signature(s) for ${signedDigest}`,
    );

    // The name to install under: the signed identity (as Dangerzone does), never
    // the archive's own claim; the archive's tag is kept when its name agrees.
    const annotated = entry.annotations?.[REF_NAME];
    let archiveRef: { repo: string; tag?: string } | undefined;
    if (annotated && annotated.includes("/")) {
      let ref;
      try {
        ref = parseRegistryReference(annotated);
      } catch {
        throw new ArchiveError(`the archive names its image '${annotated}', not a reference`);
      }
      if (ref.digest && ref.digest !== signedDigest) {
        throw new ArchiveError(
          `the archive's image name says ${ref.digest}, its index entry ${signedDigest}`,
        );
      }
      archiveRef = { repo: `${ref.registry}/${ref.repository}`, tag: ref.tag };
    }
    let signedRepo = signedRef ? repositoryOf(signedRef) : undefined;
    if (!signedRepo && sigs.length === 0 && archiveRef) {
      // Bundles that name no repository carry no signed identity at all.
      signedRepo = archiveRef.repo;
      progress?.note(
        `note: the signatures name no repository; installing under the archive's name ${signedRepo}`,
      );
    }
    if (!signedRepo) {
      throw new VerificationError(
        "IDENTITY_MISSING",
        "the archive's signatures name no repository (critical.identity.docker-reference)",
        { hint: "the archive was altered or not made from a signed image; nothing was loaded" },
      );
    }
    if (req.signedIdentities?.length) {
      const accepted = acceptedIdentities(req.signedIdentities[0], req.signedIdentities);
      if (!accepted.has(signedRepo)) {
        throw new VerificationError(
          "IDENTITY_MISMATCH",
          `the archive's image was signed for ${signedRepo}, not ${[...accepted].join(" or ")}`,
          { hint: "load the archive of the image you meant; nothing was loaded" },
        );
      }
    }
    let tag = "latest";
    if (archiveRef?.repo === signedRepo) tag = archiveRef.tag ?? "latest";
    else if (archiveRef) {
      progress?.note(
        `note: the archive calls the image ${annotated}; installing it under its signed name ${signedRepo}`,
      );
    }
    const imageName = `${signedRepo}:${tag}`;

    // Platform: one the archive holds, the host's when it holds several.
    let platform: string | undefined;
    if (isIndexType(entry.mediaType)) {
      const idx = JSON.parse(
        new TextDecoder().decode(await source.blobBytes(entry)),
      ) as ImageIndex;
      const held = idx.manifests.filter((d) => archive.blobs.has(d.digest) && d.platform)
        .map((d) => d.platform!);
      const present = held.map(formatPlatform);
      const wanted = req.platform ?? formatPlatform(defaultPlatform());
      const want = parsePlatform(wanted);
      const match = held.find((p) => platformMatches(p, want));
      platform = match ? wanted : undefined;
      if (!platform) {
        throw new UsageError(
          `the archive holds no image for ${wanted} (it has ${present.join(", ")})`,
          { hint: "prepare the archive for this machine's platform, or pass --platform" },
        );
      }
    }

    const result = await applyVerifiedUpdate({
      source,
      imageName,
      signedDigest,
      ...(platform ? { platform } : {}),
      signatures: sigs,
      bundles,
      verification,
      key: req.key,
      trustedRoot,
      dataDir: req.dataDir,
      runtime: req.runtime,
      force: req.force,
      signedIdentities: [signedRepo],
      progress,
      keepOld: req.keepOld,
    });
    return {
      ...result,
      imageName,
      ...(platform ? { platform } : {}),
      signatures: sigs.length + bundles.length,
      trustedRoot: trustedRoot.source,
    };
  } finally {
    await source.close();
  }
}
