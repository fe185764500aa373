/**
 * Write an air-gapped archive: one tar holding an OCI image layout as
 * `cosign save` writes it plus `dangerzone.json`, streamed. Small documents
 * (manifests, the index) are written from memory; blobs flow from the
 * source into the tar through their digest check, so memory stays flat and
 * a wrong byte aborts the archive. The tar is written to a temporary file
 * beside the output and renamed only when complete.
 *
 * @module
 */

import { createTarPacker, type TarPackController } from "modern-tar";
import type { Progress } from "../cli/progress.ts";
import { DzError, IoError } from "../cli/errors.ts";
import { writeStreamAtomic } from "../fs/atomic.ts";
import type { ImageSource } from "../image/source.ts";
import { digestHex } from "../registry/digest.ts";
import { type Descriptor, type ImageIndex, OCI_INDEX } from "../registry/media_types.ts";
import { DANGERZONE_MANIFEST, INDEX_FILE, OCI_LAYOUT_FILE } from "./layout_tar.ts";

/** What goes into an archive. */
export interface ArchivePlan {
  /** Entries of `index.json` (image first, then `sigs` / `atts`), annotated. */
  index: Descriptor[];
  /** Documents already in memory (manifests), by digest. */
  documents: Map<string, Uint8Array>;
  /** Blobs to stream from the source (configs, layers, signature payloads). */
  blobs: Descriptor[];
}

/** What was written. */
export interface ArchiveWritten {
  /** Blob files in the archive (documents included). */
  blobs: number;
  /** Bytes of blob content. */
  bytes: number;
}

const FIXED_MTIME = new Date(0);
const encoder = new TextEncoder();

async function addBytes(c: TarPackController, name: string, bytes: Uint8Array): Promise<void> {
  const w = c.add({ name, size: bytes.byteLength, type: "file", mode: 0o644, mtime: FIXED_MTIME })
    .getWriter();
  if (bytes.byteLength) await w.write(bytes);
  await w.close();
}

async function addDir(c: TarPackController, name: string): Promise<void> {
  await c.add({ name, size: 0, type: "directory", mode: 0o755, mtime: FIXED_MTIME }).close();
}

/**
 * Stream `plan` into a tar at `output` (atomically: a failure or an abort
 * leaves no file at `output`).
 */
export async function writeArchive(
  output: string,
  source: ImageSource,
  plan: ArchivePlan,
  options: { progress?: Progress; signal?: AbortSignal } = {},
): Promise<ArchiveWritten> {
  const { readable, controller } = createTarPacker();
  const index: ImageIndex = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: plan.index };
  const indexBytes = encoder.encode(JSON.stringify(index));
  let blobs = 0;
  let bytes = 0;
  const written = new Set<string>();

  const produce = async () => {
    const check = () => {
      if (options.signal?.aborted) throw options.signal.reason ?? new Error("aborted");
    };
    await addBytes(
      controller,
      OCI_LAYOUT_FILE,
      encoder.encode(JSON.stringify({ imageLayoutVersion: "1.0.0" })),
    );
    await addBytes(controller, INDEX_FILE, indexBytes);
    await addBytes(controller, DANGERZONE_MANIFEST, indexBytes);
    await addDir(controller, "blobs/");
    await addDir(controller, "blobs/sha256/");
    for (const [digest, doc] of plan.documents) {
      check();
      if (written.has(digest)) continue;
      written.add(digest);
      await addBytes(controller, `blobs/sha256/${digestHex(digest)}`, doc);
      blobs++;
      bytes += doc.byteLength;
    }
    for (const d of plan.blobs) {
      check();
      if (written.has(d.digest)) continue;
      written.add(d.digest);
      const transfer = options.progress?.start(`blob ${d.digest.slice(7, 19)}`, d.size);
      let ok = false;
      try {
        const stream = await source.blob(d, transfer);
        const sink = controller.add({
          name: `blobs/sha256/${digestHex(d.digest)}`,
          size: d.size,
          type: "file",
          mode: 0o644,
          mtime: FIXED_MTIME,
        });
        await stream.pipeTo(sink, { signal: options.signal });
        ok = true;
      } finally {
        transfer?.done(ok);
      }
      blobs++;
      bytes += d.size;
    }
    check();
    controller.finalize();
  };

  let producerError: unknown;
  const producing = produce().catch((e) => {
    producerError = e;
    controller.error(e);
  });
  try {
    await writeStreamAtomic(output, readable);
  } catch (e) {
    await producing;
    if (producerError instanceof DzError) throw producerError;
    if (e instanceof DzError) throw e;
    if (options.signal?.aborted) throw options.signal.reason;
    throw new IoError(`cannot write ${output}: ${(e as Error).message}`, { cause: e });
  }
  await producing;
  if (producerError !== undefined) throw producerError;
  return { blobs, bytes };
}
