/**
 * Write an air-gapped archive exactly as Dangerzone's `prepare-archive`
 * writes it (`cosign save` into a directory, then Python's
 * `tarfile.add(dir, arcname=".")`), streamed:
 *
 * - members `./`, `./blobs/`, `./blobs/sha256/`, every blob in name order,
 *   `./dangerzone.json`, `./index.json`, [`./manifest.json`,] `./oci-layout`
 *   (tarfile's sorted walk);
 * - `./dangerzone.json`: the full cosign index (image, `sigs`, `atts`, …);
 * - `./index.json`: the same document with only the image entries, so
 *   `podman load -i` and `docker load -i` take the archive as it is;
 * - both as Python's `json.dump` writes them, `./oci-layout` as `cosign save` does;
 * - for a single-platform image, `./manifest.json` (docker-archive's image
 *   list, its config and layers named by their `blobs/sha256/…` paths, as
 *   Docker ≥ 25 writes it too), so that `docker load -i` of Docker Engine
 *   20.10–24, which reads only that, loads the archive as it is;
 * - when given, the TUF chain behind the trusted root that verified the image,
 *   under `./dangerzone-image/tuf/` (extra members: Dangerzone's loader and
 *   `podman load -i` read only the layout's own files).
 *
 * Small documents (manifests, the index) are written from memory; blobs
 * flow from the source into the tar through their digest check, so memory
 * stays flat and a wrong byte aborts the archive. The tar is written to a
 * temporary file beside the output and moved into place only when complete.
 *
 * @module
 */

import type { Progress, Transfer } from "../progress/progress.ts";
import { DzError, IoError } from "../errors/errors.ts";
import { writeStreamAtomic } from "../fs/atomic.ts";
import type { ImageSource } from "../image/source.ts";
import { digestHex } from "../digest/digest.ts";
import { type Descriptor, type ImageIndex, OCI_INDEX } from "../oci/media_types.ts";
import {
  DANGERZONE_MANIFEST,
  DOCKER_MANIFEST_FILE,
  imagesOnly,
  INDEX_FILE,
  OCI_LAYOUT_FILE,
} from "./layout_tar.ts";
import { pythonJson } from "./python_json.ts";
import { type TarPart, tarStream } from "../tar/tar_stream.ts";

/** What goes into an archive. */
export interface ArchivePlan {
  /** Entries of the full cosign index (image first, then `sigs` / `atts` / bundles), annotated. */
  index: Descriptor[];
  /** Documents already in memory (manifests), by digest. */
  documents: Map<string, Uint8Array>;
  /** Blobs to stream from the source (configs, layers, signature payloads). */
  blobs: Descriptor[];
  /** TUF chain files (`N.root.json`, `timestamp.json`, …) to carry under {@linkcode TUF_ARCHIVE_DIR}. */
  tuf?: ReadonlyMap<string, Uint8Array>;
  /** `name:tag` the image is loaded under by `docker load -i` (docker-archive `RepoTags`). */
  repoTag?: string;
}

/** Where an archive carries the TUF chain of its trusted root. */
export const TUF_ARCHIVE_DIR = "dangerzone-image/tuf";

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
 * docker-archive's `manifest.json` for the archive's image, when it is a
 * single-platform manifest held in `plan.documents` (an index has no
 * docker-archive form); undefined otherwise.
 */
function dockerManifest(plan: ArchivePlan): Uint8Array | undefined {
  const image = plan.index[0];
  const bytes = image ? plan.documents.get(image.digest) : undefined;
  if (!bytes) return undefined;
  let m: { config?: { digest?: string }; layers?: { digest?: string }[]; manifests?: unknown };
  try {
    m = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  if (m.manifests !== undefined || !m.config?.digest || !Array.isArray(m.layers)) return undefined;
  const path = (d: string) => `blobs/sha256/${digestHex(d)}`;
  return encoder.encode(JSON.stringify([{
    Config: path(m.config.digest),
    RepoTags: plan.repoTag ? [plan.repoTag] : null,
    Layers: m.layers.map((l) => path(l.digest!)),
  }]));
}

/** `oci-layout` byte for byte as `cosign save` (go-containerregistry) writes it. */
const COSIGN_OCI_LAYOUT = '{\n    "imageLayoutVersion": "1.0.0"\n}';

/** A descriptor with its keys in go-containerregistry's order (as `cosign save` lists them). */
function ordered(d: Descriptor): Descriptor {
  const { mediaType, size, digest, ...rest } = d;
  return { mediaType, size, digest, ...rest };
}

/** The full cosign index (`dangerzone.json`) and the images-only `index.json`, as bytes. */
function archiveIndexes(entries: Descriptor[]): { full: Uint8Array; images: Uint8Array } {
  const full: ImageIndex = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: entries.map(ordered),
  };
  return {
    full: encoder.encode(pythonJson(full)),
    images: encoder.encode(pythonJson(imagesOnly(full))),
  };
}

/**
 * Stream `plan` into a tar at `output` (atomically: a failure or an abort
 * leaves no file at `output`; with `noClobber`, an `output` that appeared
 * meanwhile is never replaced). Blob bytes go from the source's verified
 * byte stream straight into the file writer's buffers (`tar_stream.ts`).
 */
export async function writeArchive(
  output: string,
  source: ImageSource,
  plan: ArchivePlan,
  options: { progress?: Progress; signal?: AbortSignal; noClobber?: boolean } = {},
): Promise<ArchiveWritten> {
  const indexes = archiveIndexes(plan.index);
  let blobs = 0;
  let bytes = 0;
  let open: Transfer | undefined;

  // Every blob once, in name order (documents from memory, the rest streamed).
  const members = new Map<string, { doc: Uint8Array } | { blob: Descriptor }>();
  for (const [digest, doc] of plan.documents) {
    if (!members.has(digest)) members.set(digest, { doc });
  }
  for (const d of plan.blobs) if (!members.has(d.digest)) members.set(d.digest, { blob: d });
  const names = [...members.keys()].sort((a, b) =>
    digestHex(a) < digestHex(b) ? -1 : digestHex(a) > digestHex(b) ? 1 : 0
  );

  function* parts(): Generator<TarPart> {
    const file = (name: string, data: Uint8Array): TarPart => ({
      kind: "bytes",
      name,
      bytes: data,
      mtime: FIXED_MTIME,
    });
    yield { kind: "dir", name: "./", mtime: FIXED_MTIME };
    yield { kind: "dir", name: "./blobs/", mtime: FIXED_MTIME };
    yield { kind: "dir", name: "./blobs/sha256/", mtime: FIXED_MTIME };
    for (const digest of names) {
      const m = members.get(digest)!;
      const name = `./blobs/sha256/${digestHex(digest)}`;
      if ("doc" in m) {
        yield file(name, m.doc);
        blobs++;
        bytes += m.doc.byteLength;
        continue;
      }
      const d = m.blob;
      yield {
        kind: "stream",
        name,
        size: d.size,
        mtime: FIXED_MTIME,
        open: async () => {
          open = options.progress?.start(`write ${d.digest.slice(7, 19)}`, d.size);
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
    if (plan.tuf && plan.tuf.size > 0) {
      yield { kind: "dir", name: `./${TUF_ARCHIVE_DIR.split("/")[0]}/`, mtime: FIXED_MTIME };
      yield { kind: "dir", name: `./${TUF_ARCHIVE_DIR}/`, mtime: FIXED_MTIME };
      for (const n of [...plan.tuf.keys()].sort()) {
        yield file(`./${TUF_ARCHIVE_DIR}/${n}`, plan.tuf.get(n)!);
      }
    }
    yield file(`./${DANGERZONE_MANIFEST}`, indexes.full);
    yield file(`./${INDEX_FILE}`, indexes.images);
    // In tarfile's sorted order, between index.json and oci-layout.
    const docker = dockerManifest(plan);
    if (docker) yield file(`./${DOCKER_MANIFEST_FILE}`, docker);
    yield file(`./${OCI_LAYOUT_FILE}`, encoder.encode(COSIGN_OCI_LAYOUT));
  }

  try {
    await writeStreamAtomic(output, tarStream(parts(), options.signal), {
      signal: options.signal,
      ...(options.noClobber ? { noClobber: true, createParents: false } : {}),
    });
  } catch (e) {
    open?.done(false);
    if (options.signal?.aborted) throw options.signal.reason;
    if (e instanceof DzError) throw e;
    throw new IoError(`cannot write ${output}: ${(e as Error).message}`, { cause: e });
  }
  return { blobs, bytes };
}
