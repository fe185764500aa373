/**
 * Copy one single-platform image from an {@linkcode ImageSource} into an
 * OCI image layout: config and layers first (each streamed and checked
 * against its digest and size before it becomes visible), the manifest
 * last. Blobs the layout already holds are not fetched again once their
 * files are re-hashed and match (one that does not is fetched and replaced). Used by the
 * embedded `oci:DIR` store and to stage images for podman / docker.
 *
 * @module
 */

import type { Progress } from "../progress/progress.ts";
import { silentProgress } from "../progress/progress.ts";
import type { Manifest } from "../registry/client.ts";
import type { ImageSource } from "../image/source.ts";
import type { OciLayout } from "../oci/layout.ts";
import type { Descriptor, ImageManifest } from "../oci/media_types.ts";
import { sha256Digest } from "../digest/digest.ts";
import { DigestMismatchError } from "../errors/errors.ts";
import { parseImageManifest } from "../oci/manifest.ts";
import { withInterrupt } from "../process/interrupt.ts";

/** What {@linkcode stageImage} wrote. */
export interface StagedImage {
  /** Descriptor of the manifest in the layout. */
  descriptor: Descriptor;
  /** The parsed manifest. */
  manifest: ImageManifest;
  /** Blobs fetched from the source (the rest were already present). */
  fetched: number;
}

/**
 * Copy `manifest` (a single-platform image) and its blobs from `source`
 * into `layout`. Does not name it in `index.json`. On failure, the blobs
 * this call added are removed again (the layout is left as it was).
 */
export async function stageImage(
  source: ImageSource,
  manifest: Manifest,
  layout: OciLayout,
  progress: Progress = silentProgress,
  options: StageOptions = {},
): Promise<StagedImage> {
  const written: string[] = [];
  try {
    return await copyBlobs(source, manifest, layout, progress, written, options);
  } catch (e) {
    for (const digest of written) await Deno.remove(layout.blobPath(digest)).catch(() => {});
    throw e;
  }
}

/** Options of {@linkcode stageImage}. */
export interface StageOptions {
  /**
   * Make linked blobs durable (fsync; default true). A temporary staging
   * layout, thrown away after the load, passes false.
   */
  durable?: boolean;
}

/** Blobs fetched at once: network, hashing and disk overlap (more gains nothing on 2 cores). */
const STAGE_CONCURRENCY = 2;

async function copyBlobs(
  source: ImageSource,
  manifest: Manifest,
  layout: OciLayout,
  progress: Progress,
  written: string[],
  options: StageOptions,
): Promise<StagedImage> {
  if (sha256Digest(manifest.bytes) !== manifest.digest) {
    throw new DigestMismatchError(`manifest ${manifest.digest}: its bytes hash otherwise`);
  }
  const parsed = parseImageManifest(manifest.bytes, `manifest ${manifest.digest}`);
  const todo: Descriptor[] = [];
  const seen = new Set<string>();
  for (const blob of [parsed.config, ...parsed.layers]) {
    if (seen.has(blob.digest)) continue;
    seen.add(blob.digest);
    // A blob already stored is reused only once its file hashes to the digest again.
    if (!await layout.hasVerifiedBlob(blob)) todo.push(blob);
  }
  // A few blobs at a time; the first failure stops the others, and every
  // transfer has ended (its temp file removed) before the error propagates.
  const abort = new AbortController();
  // An interrupt (Ctrl-C) stops every transfer too; each removes its temp file.
  const signal = withInterrupt(abort.signal);
  let failure = undefined as { error: unknown } | undefined;
  let next = 0;
  // Linked blobs are fsynced in the background while the next ones download; all are
  // durable before the manifest that names them is written.
  const durable = options.durable !== false;
  const syncs: Promise<void>[] = [];
  const syncLater = (digest: string) => {
    syncs.push(
      layout.syncBlobs([digest]).catch((error) => {
        failure ??= { error };
      }),
    );
  };
  const worker = async () => {
    while (!failure && next < todo.length) {
      const blob = todo[next++];
      const transfer = progress.start(`fetch ${blob.digest.slice(7, 19)}`, blob.size);
      try {
        signal.throwIfAborted();
        // A source holding the blob verified in a private directory (an
        // unpacked archive, the resume area) links it: no copy.
        const linked = await source.linkBlob?.(blob, layout, { durable: false, transfer });
        if (linked !== undefined) {
          if (linked === "written") {
            written.push(blob.digest);
            if (durable) syncLater(blob.digest);
          }
          transfer.done(true);
          continue;
        }
        const stream = await source.blob(blob, transfer);
        if (await layout.writeBlob(blob, stream, { signal }) === "written") {
          written.push(blob.digest);
        }
        transfer.done(true);
      } catch (error) {
        transfer.done(false);
        failure ??= { error };
        abort.abort(error);
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(STAGE_CONCURRENCY, todo.length) }, worker),
  );
  await Promise.all(syncs);
  if (failure) throw failure.error;
  signal.throwIfAborted();
  const fetched = todo.length;
  const m = await layout.writeBlob(
    { digest: manifest.digest, size: manifest.bytes.byteLength },
    new Blob([manifest.bytes as BlobPart]).stream(),
  );
  if (m === "written") written.push(manifest.digest);
  return {
    descriptor: {
      mediaType: parsed.mediaType ?? manifest.mediaType,
      digest: manifest.digest,
      size: manifest.bytes.byteLength,
    },
    manifest: parsed,
    fetched,
  };
}
