/**
 * Read an air-gapped archive safely: stream the tar once, refuse any entry
 * that is not one of the layout's regular files (or its two directories),
 * refuse duplicates and oversized or too many entries, check every blob
 * against the digest its name gives while it is written to a private
 * temporary layout, then check the layout as a whole (index /
 * `dangerzone.json` agreement, every referenced blob present with the size
 * its descriptor declares). Only then is it opened as an image source.
 *
 * @module
 */

import { readAllLimited } from "../fs/read_limited.ts";
import { join } from "node:path";
import { createTarDecoder } from "modern-tar";
import { DigestMismatchError, DzError, IoError } from "../cli/errors.ts";
import type { Progress } from "../cli/progress.ts";
import { digestHex, digestingStream } from "../registry/digest.ts";
import { writeFileAtomic, writeStreamAtomic } from "../fs/atomic.ts";
import {
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  isIndexType,
} from "../registry/media_types.ts";
import { OciLayout, validateDescriptor } from "../oci/layout.ts";
import { LayoutSource } from "../image/source.ts";
import {
  ArchiveError,
  type ArchiveLimits,
  classifyEntry,
  DANGERZONE_MANIFEST,
  DEFAULT_LIMITS,
  imagesOnly,
  INDEX_FILE,
  jsonEqual,
  OCI_LAYOUT_FILE,
} from "./layout_tar.ts";

/** A checked archive unpacked into a private layout directory. */
export interface ExtractedArchive {
  /** The layout directory (owned by the caller; remove it when done). */
  dir: string;
  /** The full index (from `dangerzone.json` when the archive's `index.json` is images-only). */
  index: ImageIndex;
  /** Whether the archive carried `dangerzone.json`. */
  dangerzoneManifest: boolean;
  /** Blobs present: digest → size. */
  blobs: Map<string, number>;
  /** Tar entries read. */
  entries: number;
  /** Bytes of blob content read. */
  bytes: number;
}

const decoder = new TextDecoder();

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    throw new ArchiveError(`the archive's ${what} is not JSON`);
  }
}

function parseIndex(bytes: Uint8Array, what: string): ImageIndex {
  const index = parseJson(bytes, what) as ImageIndex;
  if (
    typeof index !== "object" || index === null || index.schemaVersion !== 2 ||
    !Array.isArray(index.manifests)
  ) {
    throw new ArchiveError(`the archive's ${what} is not an OCI image index`);
  }
  for (const d of index.manifests) {
    try {
      validateDescriptor(d, what);
    } catch (e) {
      throw new ArchiveError(`the archive's ${what}: ${(e as Error).message}`);
    }
  }
  return index;
}

function readAll(stream: ReadableStream<Uint8Array>, limit: number, what: string) {
  return readAllLimited(
    stream,
    limit,
    () => new ArchiveError(`${what} is larger than ${limit} bytes`),
  );
}

/**
 * Stream the tar at `path` into `dir` (an empty directory the caller owns),
 * checking everything; see the module doc.
 * @throws ArchiveError (exit 1) for anything malformed or unsafe, IoError for I/O.
 */
export async function extractArchive(
  path: string,
  dir: string,
  options: { limits?: Partial<ArchiveLimits>; progress?: Progress } = {},
): Promise<ExtractedArchive> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new IoError(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!info.isFile) throw new IoError(`${path} is not a regular file`);
  const file = await Deno.open(path, { read: true });
  const transfer = options.progress?.start(`reading ${path}`, info.size);
  const tar = createTarDecoder({ strict: true });
  const abort = new AbortController();
  const piping = file.readable.pipeTo(tar.writable, { signal: abort.signal }).catch(() => {});
  await Deno.mkdir(join(dir, "blobs", "sha256"), { recursive: true });

  const seen = new Set<string>();
  const json = new Map<string, Uint8Array>();
  const blobs = new Map<string, number>();
  let entries = 0;
  let bytes = 0;
  let ok = false;
  try {
    const reader = tar.readable.getReader();
    try {
      while (true) {
        let next;
        try {
          next = await reader.read();
        } catch (e) {
          throw e instanceof DzError ? e : new ArchiveError(
            `${path} is not a valid tar archive: ${(e as Error).message}`,
            { cause: e },
          );
        }
        if (next.done) break;
        const { header, body } = next.value;
        entries++;
        if (entries > limits.maxEntries) {
          await body.cancel();
          throw new ArchiveError(`the archive holds more than ${limits.maxEntries} entries`);
        }
        let classified;
        try {
          classified = classifyEntry(header.name, header.type);
        } catch (e) {
          await body.cancel();
          throw e;
        }
        const { name, entry } = classified;
        if (seen.has(name)) {
          await body.cancel();
          throw new ArchiveError(`the archive holds '${name}' twice`);
        }
        seen.add(name);
        if (entry.kind === "dir") {
          await body.cancel();
          continue;
        }
        if (entry.kind === "json") {
          if (header.size > limits.maxJsonBytes) {
            await body.cancel();
            throw new ArchiveError(`the archive's ${name} is larger than ${limits.maxJsonBytes}`);
          }
          json.set(entry.file, await readAll(body, limits.maxJsonBytes, `the archive's ${name}`));
          continue;
        }
        if (header.size > limits.maxBlobBytes || bytes + header.size > limits.maxTotalBytes) {
          await body.cancel();
          throw new ArchiveError(
            `the archive's ${name} (${header.size} bytes) exceeds the size limits`,
          );
        }
        bytes += header.size;
        try {
          await writeStreamAtomic(
            join(dir, "blobs", "sha256", digestHex(entry.digest)),
            body.pipeThrough(
              digestingStream(
                { digest: entry.digest, size: header.size, what: `archive entry ${name}` },
                (n) => transfer?.advance(n),
              ),
            ),
          );
        } catch (e) {
          if (e instanceof DigestMismatchError) {
            throw new ArchiveError(
              `the archive's ${name} does not hash to its name: ${e.message}`,
              { cause: e },
            );
          }
          throw e instanceof DzError ? e : new ArchiveError(
            `${path} could not be read: ${(e as Error).message}`,
            { cause: e },
          );
        }
        blobs.set(entry.digest, header.size);
      }
    } finally {
      await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
    ok = true;
  } finally {
    if (!ok) abort.abort();
    await piping;
    try {
      file.close();
    } catch { /* already closed by the pipe */ }
    transfer?.done(ok);
  }

  // ---- the layout as a whole
  const layoutBytes = json.get(OCI_LAYOUT_FILE);
  if (!layoutBytes) throw new ArchiveError("the archive has no oci-layout file");
  const layoutDoc = parseJson(layoutBytes, OCI_LAYOUT_FILE) as { imageLayoutVersion?: unknown };
  if (layoutDoc?.imageLayoutVersion !== "1.0.0") {
    throw new ArchiveError("the archive's oci-layout is not version 1.0.0");
  }
  const indexBytes = json.get(INDEX_FILE);
  if (!indexBytes) throw new ArchiveError("the archive has no index.json");
  const index = parseIndex(indexBytes, INDEX_FILE);
  let full = index;
  const dzBytes = json.get(DANGERZONE_MANIFEST);
  if (dzBytes) {
    const dz = parseIndex(dzBytes, DANGERZONE_MANIFEST);
    if (!jsonEqual(dz, index) && !jsonEqual(imagesOnly(dz), index)) {
      throw new ArchiveError("the archive's index.json and dangerzone.json disagree", {
        hint: "the archive was altered; prepare it again",
      });
    }
    full = dz;
  }
  await checkReferences(dir, full, blobs);
  await writeFileAtomic(join(dir, OCI_LAYOUT_FILE), layoutBytes);
  await writeFileAtomic(join(dir, INDEX_FILE), JSON.stringify(full));
  return { dir, index: full, dangerzoneManifest: dzBytes !== undefined, blobs, entries, bytes };
}

/** Largest manifest read while checking references. */
const MAX_MANIFEST = 4 * 1024 * 1024;

/**
 * Every descriptor reachable from the index must name a blob present with
 * its declared size; an image index may omit whole child manifests (a
 * platform left out), but not all of them.
 */
async function checkReferences(
  dir: string,
  index: ImageIndex,
  blobs: Map<string, number>,
): Promise<void> {
  const present = (d: Descriptor, what: string) => {
    const size = blobs.get(d.digest);
    if (size === undefined) {
      throw new ArchiveError(`the archive lacks ${what} ${d.digest}`, {
        hint: "the archive is incomplete or was altered",
      });
    }
    if (size !== d.size) {
      throw new ArchiveError(
        `the archive's ${what} ${d.digest} is ${size} bytes, its descriptor says ${d.size}`,
      );
    }
  };
  const readDoc = async (d: Descriptor) => {
    if (d.size > MAX_MANIFEST) throw new ArchiveError(`manifest ${d.digest} is too large`);
    const bytes = await Deno.readFile(join(dir, "blobs", "sha256", digestHex(d.digest)));
    const doc = parseJson(bytes, `manifest ${d.digest}`) as { mediaType?: unknown };
    if (typeof doc !== "object" || doc === null) {
      throw new ArchiveError(`manifest ${d.digest} is not a JSON object`);
    }
    if (doc.mediaType !== undefined && doc.mediaType !== d.mediaType) {
      throw new ArchiveError(
        `manifest ${d.digest} is a ${doc.mediaType}, its descriptor says ${d.mediaType}`,
      );
    }
    return doc;
  };
  const checkManifest = async (d: Descriptor, depth: number): Promise<void> => {
    present(d, "manifest");
    const doc = await readDoc(d);
    if (isIndexType(d.mediaType)) {
      if (depth > 2) throw new ArchiveError(`index ${d.digest} nests too deeply`);
      const idx = doc as ImageIndex;
      if (!Array.isArray(idx.manifests)) throw new ArchiveError(`index ${d.digest} is malformed`);
      let found = 0;
      for (const child of idx.manifests) {
        try {
          validateDescriptor(child, `index ${d.digest}`);
        } catch (e) {
          throw new ArchiveError((e as Error).message);
        }
        if (!blobs.has(child.digest)) continue;
        found++;
        await checkManifest(child, depth + 1);
      }
      if (found === 0) {
        throw new ArchiveError(`the archive holds none of the manifests index ${d.digest} lists`);
      }
      return;
    }
    const m = doc as ImageManifest;
    if (typeof m.config !== "object" || m.config === null || !Array.isArray(m.layers)) {
      throw new ArchiveError(`manifest ${d.digest} is not an image manifest`);
    }
    for (const x of [m.config, ...m.layers]) {
      try {
        validateDescriptor(x, `manifest ${d.digest}`);
      } catch (e) {
        throw new ArchiveError((e as Error).message);
      }
      present(x, "blob");
    }
  };
  if (index.manifests.length === 0) throw new ArchiveError("the archive's index lists no image");
  for (const d of index.manifests) await checkManifest(d, 0);
}

/** An archive opened as an image source, plus what was found in it. */
export interface OpenedArchive {
  source: LayoutSource;
  archive: ExtractedArchive;
}

/**
 * Remove `archive-<pid>-*` extraction directories whose process is gone
 * (a `load-archive` killed mid-way). Only on Linux, where a live pid can be
 * told from a dead one through `/proc`; elsewhere they are left alone.
 */
export async function sweepAbandonedExtractions(parent: string): Promise<string[]> {
  if (Deno.build.os !== "linux") return [];
  const removed: string[] = [];
  for await (const e of Deno.readDir(parent)) {
    const m = e.isDirectory ? /^archive-(\d+)-/.exec(e.name) : null;
    if (!m || Number(m[1]) === Deno.pid) continue;
    try {
      await Deno.stat(`/proc/${m[1]}`);
      continue; // its process still runs
    } catch {
      // gone: the directory is abandoned
    }
    await Deno.remove(join(parent, e.name), { recursive: true }).catch(() => {});
    removed.push(e.name);
  }
  return removed;
}

/**
 * Check and unpack `path` into a temporary directory under
 * `<dataDir>/tmp` (same filesystem as the stores), opened as a
 * {@linkcode LayoutSource}; closing the source removes the directory. On
 * any failure nothing is left behind.
 */
export async function openArchive(
  path: string,
  dataDir: string,
  options: { limits?: Partial<ArchiveLimits>; progress?: Progress } = {},
): Promise<OpenedArchive> {
  const parent = join(dataDir, "tmp");
  await Deno.mkdir(parent, { recursive: true, mode: 0o700 });
  await sweepAbandonedExtractions(parent);
  const dir = await Deno.makeTempDir({ dir: parent, prefix: `archive-${Deno.pid}-` });
  const cleanup = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  try {
    const archive = await extractArchive(path, dir, options);
    const layout = await OciLayout.open(dir);
    return { source: new LayoutSource(layout, {}, cleanup), archive };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
