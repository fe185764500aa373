/**
 * Read an air-gapped archive safely, in one read of the file: it refuses
 * any entry that is not one of the layout's regular files (or its
 * directories), duplicates, oversized or too many entries (from the
 * headers, before a byte of the entry is written), unpacks every blob into
 * a private temporary layout through its digest check (a blob that does
 * not hash to its name never gets that name), then checks the layout as a
 * whole (index / `dangerzone.json` agreement, every referenced blob present
 * with the size its descriptor declares, no unreferenced blob). Anything
 * refused removes what was unpacked; only an archive that passed every
 * check is opened as an image source.
 *
 * @module
 */

import { readAllLimited } from "../fs/read_limited.ts";
import { join } from "node:path";
import { createTarDecoder } from "../npm/modern_tar.ts";
import { DigestMismatchError, DzError, IoError, UsageError } from "../errors/errors.ts";
import type { Progress } from "../progress/progress.ts";
import { createHash } from "node:crypto";
import { digestHex } from "../digest/digest.ts";
import { byteStreamFrom } from "../fs/byte_stream.ts";
import { writeFileAtomic, writeStreamAtomic } from "../fs/atomic.ts";
import {
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  isIndexType,
} from "../oci/media_types.ts";
import { OciLayout, validateDescriptor } from "../oci/layout.ts";
import { JsonShapeError, parseBoundedJson } from "../json/bounded.ts";
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
  normalizeEntryName,
  OCI_LAYOUT_FILE,
} from "./layout_tar.ts";
import { CHAIN_FILE } from "../trust/tuf_files.ts";
import { TUF_ARCHIVE_DIR } from "./write.ts";

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
  /**
   * The TUF chain carried under `./dangerzone-image/tuf/` (chain file name →
   * bytes; empty when none). Unverified: only `load-archive`'s check from
   * this machine's TUF root makes it worth anything.
   */
  tuf: Map<string, Uint8Array>;
}

const decoder = new TextDecoder();

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return parseBoundedJson(decoder.decode(bytes));
  } catch (e) {
    if (e instanceof JsonShapeError) throw new ArchiveError(`the archive's ${what} ${e.message}`);
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

/** One blob entry, as the tar walk hands it over. */
interface BlobEntry {
  name: string;
  digest: string;
  size: number;
  /** The entry's bytes: views of the chunks read from the file. */
  body: ReadableStream<Uint8Array>;
  /**
   * The consumer is finished with this piece of `body` (it hashed or
   * copied it and keeps no reference): counts progress and lets the chunks
   * before it be freed at once (see {@linkcode ChunkRecycler}).
   */
  done(piece: Uint8Array): void;
}

/** What a walk over the tar found. */
interface Walk {
  json: Map<string, Uint8Array>;
  tuf: Map<string, Uint8Array>;
  blobs: Map<string, number>;
  entries: number;
  bytes: number;
}

/**
 * A member of the carried TUF chain (`dangerzone-image/`, `dangerzone-image/tuf/`,
 * `dangerzone-image/tuf/<chain file>`), or `undefined` for any other name.
 * @throws ArchiveError for anything else under `dangerzone-image/`.
 */
function tufMember(rawName: string, type: string | undefined): { file?: string } | undefined {
  const name = normalizeEntryName(rawName);
  const top = TUF_ARCHIVE_DIR.split("/")[0];
  if (name !== top && !name.startsWith(`${top}/`)) return undefined;
  const t = type ?? "file";
  if (name === top || name === TUF_ARCHIVE_DIR) {
    if (t !== "directory") throw new ArchiveError(`archive entry '${name}' is not a directory`);
    return {};
  }
  const file = name.slice(TUF_ARCHIVE_DIR.length + 1);
  if (!name.startsWith(`${TUF_ARCHIVE_DIR}/`) || t !== "file" || !CHAIN_FILE.test(file)) {
    throw new ArchiveError(`archive holds an unexpected file '${name.slice(0, 120)}'`);
  }
  return { file };
}

/**
 * Read the tar at `path` once, refusing unsafe entries (names, types,
 * duplicates, counts, sizes) and handing each blob entry to `onBlob`, which
 * must consume or cancel its body.
 */
async function walkArchive(
  path: string,
  limits: ArchiveLimits,
  label: string,
  progress: Progress | undefined,
  onBlob: (entry: BlobEntry) => Promise<void>,
): Promise<Walk> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new IoError(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!info.isFile) throw new IoError(`${path} is not a regular file`);
  const file = await Deno.open(path, { read: true });
  const transfer = progress?.start(`${label} ${path}`, info.size);
  const tar = createTarDecoder({ strict: true });
  const abort = new AbortController();
  const recycler = new ChunkRecycler();
  const piping = fileChunks(file, recycler).pipeTo(tar.writable, { signal: abort.signal })
    .catch(() => {});

  const seen = new Set<string>();
  const walk: Walk = { json: new Map(), tuf: new Map(), blobs: new Map(), entries: 0, bytes: 0 };
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
        walk.entries++;
        if (walk.entries > limits.maxEntries) {
          await body.cancel();
          throw new ArchiveError(`the archive holds more than ${limits.maxEntries} entries`);
        }
        let classified;
        try {
          const tuf = tufMember(header.name, header.type);
          if (tuf) {
            const key = normalizeEntryName(header.name);
            if (seen.has(key)) throw new ArchiveError(`the archive holds '${header.name}' twice`);
            seen.add(key);
            if (tuf.file !== undefined) {
              if (header.size > limits.maxJsonBytes) {
                throw new ArchiveError(`the archive's ${header.name} is too large`);
              }
              walk.tuf.set(tuf.file, await readAll(body, limits.maxJsonBytes, header.name));
            } else await body.cancel();
            continue;
          }
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
          walk.json.set(
            entry.file,
            await readAll(body, limits.maxJsonBytes, `the archive's ${name}`),
          );
          continue;
        }
        if (header.size > limits.maxBlobBytes || walk.bytes + header.size > limits.maxTotalBytes) {
          await body.cancel();
          throw new ArchiveError(
            `the archive's ${name} (${header.size} bytes) exceeds the size limits`,
          );
        }
        walk.bytes += header.size;
        await onBlob({
          name,
          digest: entry.digest,
          size: header.size,
          body,
          done(piece) {
            transfer?.advance(piece.byteLength);
            recycler.release(piece);
          },
        });
        walk.blobs.set(entry.digest, header.size);
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
  return walk;
}

/** Bytes read from the archive at a time (the tar decoder hands out views of them). */
const READ_CHUNK = 1024 * 1024;

/**
 * Frees the chunks read from the archive as soon as nothing can refer to
 * them, instead of leaving up to tens of MiB of them to the garbage
 * collector. The tar decoder queues the chunks it is given in order and
 * hands entry bodies out as views of them, front first; once the final
 * consumer is done with a view of chunk `i` (it hashed or copied it), every
 * chunk before `i` has left the decoder's queue and every view of one has
 * been delivered and finished with, so their memory is released at once
 * (the buffer is detached: a stray use would throw, never read other bytes).
 */
class ChunkRecycler {
  readonly #index = new WeakMap<ArrayBufferLike, number>();
  readonly #live: ArrayBuffer[] = [];
  #first = 0;
  #next = 0;

  /** A chunk about to be handed to the decoder. */
  register(buffer: ArrayBuffer): void {
    this.#index.set(buffer, this.#next++);
    this.#live.push(buffer);
  }

  /** The final consumer is done with `piece`: release every chunk before its own. */
  release(piece: Uint8Array): void {
    const i = this.#index.get(piece.buffer);
    if (i === undefined) return; // a copy the decoder made, not one of ours
    while (this.#first < i && this.#live.length > 0) {
      this.#live.shift()!.transfer(0);
      this.#first++;
    }
  }
}

/**
 * `file` as a stream of 1 MiB chunks: 16 times fewer reads (each an async
 * hop to a blocking thread) than `file.readable`'s 64 KiB, and blob bodies
 * come out of the tar decoder as large views that hash at full speed.
 */
function fileChunks(file: Deno.FsFile, recycler: ChunkRecycler): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buf = new Uint8Array(READ_CHUNK);
      recycler.register(buf.buffer);
      let n: number | null;
      try {
        n = await file.read(buf);
      } catch (e) {
        controller.error(e);
        return;
      }
      if (n === null) controller.close();
      else controller.enqueue(buf.subarray(0, n));
    },
  }, { highWaterMark: 0 });
}

/**
 * A blob entry's body checked against the digest and size its name and
 * header give, as a byte stream (a BYOB reader gets the bytes copied
 * straight into its own buffer): it errors at its end, instead of closing,
 * unless the bytes are exactly right. Each piece is hashed where it lies
 * and handed back through `entry.done` once copied out.
 */
function checked(entry: BlobEntry): ReadableStream<Uint8Array> {
  const hash = createHash("sha256");
  const what = `archive entry ${entry.name}`;
  const reader = entry.body.getReader();
  let seen = 0;
  let piece: Uint8Array | undefined;
  let left: Uint8Array = new Uint8Array(0);
  return byteStreamFrom(async (view) => {
    while (left.byteLength === 0) {
      if (piece) entry.done(piece);
      piece = undefined;
      let next;
      try {
        next = await reader.read();
      } catch (e) {
        // The tar itself is broken (cut short, a bad header): say so, whoever reads this body.
        throw e instanceof DzError
          ? e
          : new ArchiveError(`${what} could not be read: ${(e as Error).message}`, { cause: e });
      }
      if (next.done) {
        if (seen !== entry.size) {
          throw new DigestMismatchError(
            `${what}: ${seen} bytes where its descriptor declares ${entry.size}`,
          );
        }
        const got = `sha256:${hash.digest("hex")}`;
        if (got !== entry.digest) {
          throw new DigestMismatchError(
            `${what}: content digest is ${got}, expected ${entry.digest}`,
          );
        }
        return { done: true, value: view.subarray(0, 0) };
      }
      seen += next.value.byteLength;
      if (seen > entry.size) {
        throw new DigestMismatchError(
          `${what}: more than the ${entry.size} bytes its descriptor declares`,
        );
      }
      hash.update(next.value);
      piece = left = next.value;
    }
    const n = Math.min(view.byteLength, left.byteLength);
    view.set(n === left.byteLength ? left : left.subarray(0, n));
    left = left.subarray(n);
    return { done: false, value: view.subarray(0, n) };
  }, (reason) => reader.cancel(reason));
}

function asArchiveError(e: unknown, path: string, name: string): unknown {
  if (e instanceof DigestMismatchError) {
    return new ArchiveError(`the archive's ${name} does not hash to its name: ${e.message}`, {
      cause: e,
    });
  }
  return e instanceof DzError
    ? e
    : new ArchiveError(`${path} could not be read: ${(e as Error).message}`, { cause: e });
}

/** Small blobs (candidate manifests) kept in memory by the check pass, at most this much. */
const KEEP_BUDGET = 64 * 1024 * 1024;

/**
 * Check the tar at `path` completely while unpacking it into `dir` (an
 * empty directory the caller owns, private to this process), in one read
 * of the file and one hash of every blob.
 *
 * Every entry's name, type and size is checked from its header before a
 * byte of it is written (a 10 GiB sparse entry, a device, a `../` name, a
 * duplicate, too many entries are refused there); every blob is written
 * through its digest check and gets its name only once it hashed to it
 * (a wrong byte leaves nothing under that name). After the read, the
 * layout as a whole is checked: the index / `dangerzone.json` agreement and
 * every reference (present, right size, nothing unreferenced). Anything
 * refused removes what this call wrote: `dir` is left empty, and nothing
 * ever reaches a runtime from an archive that did not pass every check.
 * @throws ArchiveError (exit 1) for anything malformed or unsafe, IoError for I/O.
 */
export async function extractArchive(
  path: string,
  dir: string,
  options: { limits?: Partial<ArchiveLimits>; progress?: Progress } = {},
): Promise<ExtractedArchive> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  await refuseCompressed(path);
  const blobDir = join(dir, "blobs", "sha256");
  await Deno.mkdir(blobDir, { recursive: true });
  try {
    return await checkAndUnpack(path, dir, blobDir, limits, options.progress);
  } catch (e) {
    // Refused or failed: nothing of this archive stays behind.
    await Deno.remove(join(dir, "blobs"), { recursive: true }).catch(() => {});
    for (const f of [OCI_LAYOUT_FILE, INDEX_FILE]) await Deno.remove(join(dir, f)).catch(() => {});
    throw e;
  }
}

async function checkAndUnpack(
  path: string,
  dir: string,
  blobDir: string,
  limits: ArchiveLimits,
  progress: Progress | undefined,
): Promise<ExtractedArchive> {
  // Small blobs (candidate manifests) are also kept in memory for the reference check.
  const small = new Map<string, Uint8Array>();
  let kept = 0;
  const scan = await walkArchive(path, limits, "verify", progress, async (entry) => {
    const keep = entry.size <= MAX_MANIFEST && kept + entry.size <= KEEP_BUDGET;
    const to = join(blobDir, digestHex(entry.digest));
    try {
      // A private directory, thrown away after a crash: no fsync.
      if (keep) {
        const bytes = await readAll(checked(entry), MAX_MANIFEST, entry.name);
        small.set(entry.digest, bytes);
        kept += entry.size;
        await writeFileAtomic(to, bytes, { durable: false });
      } else {
        await writeStreamAtomic(to, checked(entry), { durable: false });
      }
    } catch (e) {
      throw asArchiveError(e, path, entry.name);
    }
  });

  const layoutBytes = scan.json.get(OCI_LAYOUT_FILE);
  if (!layoutBytes) throw new ArchiveError("the archive has no oci-layout file");
  const layoutDoc = parseJson(layoutBytes, OCI_LAYOUT_FILE) as { imageLayoutVersion?: unknown };
  if (layoutDoc?.imageLayoutVersion !== "1.0.0") {
    throw new ArchiveError("the archive's oci-layout is not version 1.0.0");
  }
  const indexBytes = scan.json.get(INDEX_FILE);
  if (!indexBytes) throw new ArchiveError("the archive has no index.json");
  const index = parseIndex(indexBytes, INDEX_FILE);
  let full = index;
  const dzBytes = scan.json.get(DANGERZONE_MANIFEST);
  if (dzBytes) {
    const dz = parseIndex(dzBytes, DANGERZONE_MANIFEST);
    if (!jsonEqual(dz, index) && !jsonEqual(imagesOnly(dz), index)) {
      throw new ArchiveError("the archive's index.json and dangerzone.json disagree", {
        hint: "the archive was altered; prepare it again",
      });
    }
    full = dz;
  }
  const reachable = checkReferences(full, scan.blobs, (d) => {
    const bytes = small.get(d.digest);
    if (!bytes) {
      throw new ArchiveError(`manifest ${d.digest} is too large or there are too many manifests`);
    }
    return bytes;
  });
  for (const digest of scan.blobs.keys()) {
    if (!reachable.has(digest)) {
      throw new ArchiveError(`the archive holds blob ${digest}, which nothing refers to`, {
        hint: "the archive was altered; prepare it again",
      });
    }
  }
  // The layout's own files last: without them the directory is no layout.
  await writeFileAtomic(join(dir, OCI_LAYOUT_FILE), layoutBytes);
  await writeFileAtomic(join(dir, INDEX_FILE), JSON.stringify(full));
  return {
    dir,
    index: full,
    dangerzoneManifest: dzBytes !== undefined,
    blobs: scan.blobs,
    entries: scan.entries,
    bytes: scan.bytes,
    tuf: scan.tuf,
  };
}

/** Largest manifest read while checking references. */
const MAX_MANIFEST = 4 * 1024 * 1024;

/**
 * Every descriptor reachable from the index must name a blob present with
 * its declared size; an image index may omit whole child manifests (a
 * platform left out), but not all of them. Returns the digests reached.
 */
function checkReferences(
  index: ImageIndex,
  blobs: Map<string, number>,
  read: (d: Descriptor) => Uint8Array,
): Set<string> {
  const reached = new Set<string>();
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
    reached.add(d.digest);
  };
  const readDoc = (d: Descriptor) => {
    if (d.size > MAX_MANIFEST) throw new ArchiveError(`manifest ${d.digest} is too large`);
    const doc = parseJson(read(d), `manifest ${d.digest}`) as { mediaType?: unknown };
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
  const checkManifest = (d: Descriptor, depth: number): void => {
    present(d, "manifest");
    const doc = readDoc(d);
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
        checkManifest(child, depth + 1);
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
  for (const d of index.manifests) checkManifest(d, 0);
  return reached;
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

const COMPRESSED: [string, number[]][] = [
  ["gzip", [0x1f, 0x8b]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["bzip2", [0x42, 0x5a, 0x68]],
];

/**
 * A compressed file is not an archive (Dangerzone's is a plain tar): a
 * usage error naming the fix, not a tar parser's complaint.
 * @throws UsageError (exit 2)
 */
async function refuseCompressed(path: string): Promise<void> {
  let head = new Uint8Array(0);
  try {
    using f = await Deno.open(path, { read: true });
    const buf = new Uint8Array(6);
    const n = await f.read(buf);
    head = buf.subarray(0, n ?? 0);
  } catch {
    return; // the reader reports it
  }
  for (const [kind, magic] of COMPRESSED) {
    if (magic.every((b, i) => head[i] === b)) {
      const tool = kind === "gzip" ? "gunzip -k" : `${kind} -dk`;
      throw new UsageError(`${path} is ${kind}-compressed, not a plain tar archive`, {
        hint: `decompress it first (e.g. ${tool} ${path}) and pass the .tar`,
      });
    }
  }
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
    // Private (0700, this process's) and every blob verified as it was written.
    return {
      source: new LayoutSource(layout, {}, cleanup, {
        verifiedPrivate: true,
        name: `archive:${path}`,
      }),
      archive,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
