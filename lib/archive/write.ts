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

import type { Progress, Transfer } from "../cli/progress.ts";
import { DzError, IoError } from "../cli/errors.ts";
import { writeStreamAtomic } from "../fs/atomic.ts";
import type { ImageSource } from "../image/source.ts";
import { digestHex } from "../registry/digest.ts";
import { type Descriptor, type ImageIndex, OCI_INDEX } from "../registry/media_types.ts";
import { DANGERZONE_MANIFEST, INDEX_FILE, OCI_LAYOUT_FILE } from "./layout_tar.ts";
import { type TarPart, tarStream } from "./tar_stream.ts";

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

/**
 * Stream `plan` into a tar at `output` (atomically: a failure or an abort
 * leaves no file at `output`). Blob bytes go from the source's verified
 * byte stream straight into the file writer's buffers (`tar_stream.ts`).
 */
export async function writeArchive(
  output: string,
  source: ImageSource,
  plan: ArchivePlan,
  options: { progress?: Progress; signal?: AbortSignal } = {},
): Promise<ArchiveWritten> {
  const index: ImageIndex = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: plan.index };
  const indexBytes = encoder.encode(JSON.stringify(index));
  let blobs = 0;
  let bytes = 0;
  let open: Transfer | undefined;

  function* parts(): Generator<TarPart> {
    const file = (name: string, data: Uint8Array): TarPart => ({
      kind: "bytes",
      name,
      bytes: data,
      mtime: FIXED_MTIME,
    });
    yield file(OCI_LAYOUT_FILE, encoder.encode(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
    yield file(INDEX_FILE, indexBytes);
    yield file(DANGERZONE_MANIFEST, indexBytes);
    yield { kind: "dir", name: "blobs/", mtime: FIXED_MTIME };
    yield { kind: "dir", name: "blobs/sha256/", mtime: FIXED_MTIME };
    const written = new Set<string>();
    for (const [digest, doc] of plan.documents) {
      if (written.has(digest)) continue;
      written.add(digest);
      yield file(`blobs/sha256/${digestHex(digest)}`, doc);
      blobs++;
      bytes += doc.byteLength;
    }
    for (const d of plan.blobs) {
      if (written.has(d.digest)) continue;
      written.add(d.digest);
      yield {
        kind: "stream",
        name: `blobs/sha256/${digestHex(d.digest)}`,
        size: d.size,
        mtime: FIXED_MTIME,
        open: async () => {
          open = options.progress?.start(`blob ${d.digest.slice(7, 19)}`, d.size);
          return await source.blob(d, open);
        },
        onDone: () => {
          open?.done(true);
          open = undefined;
          blobs++;
          bytes += d.size;
        },
      };
    }
  }

  try {
    await writeStreamAtomic(output, tarStream(parts(), options.signal), {
      signal: options.signal,
    });
  } catch (e) {
    open?.done(false);
    if (options.signal?.aborted) throw options.signal.reason;
    if (e instanceof DzError) throw e;
    throw new IoError(`cannot write ${output}: ${(e as Error).message}`, { cause: e });
  }
  return { blobs, bytes };
}
