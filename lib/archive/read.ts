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

import { join } from "node:path";
import type { Progress } from "../progress/progress.ts";
import { digestHex } from "../digest/digest.ts";
import { writeFileAtomic, writeStreamAtomic } from "../fs/atomic.ts";
import type { ImageIndex } from "../oci/media_types.ts";
import { OciLayout } from "../oci/layout.ts";
import { LayoutSource } from "../image/source.ts";
import {
  ArchiveError,
  type ArchiveLimits,
  DANGERZONE_MANIFEST,
  DEFAULT_LIMITS,
  imagesOnly,
  INDEX_FILE,
  jsonEqual,
  OCI_LAYOUT_FILE,
} from "./layout_tar.ts";
import { readAll, walkArchive } from "./tar_walk.ts";
import { asArchiveError, checked } from "./checked_blob.ts";
import { checkReferences, MAX_MANIFEST, parseIndex, parseJson } from "./layout_check.ts";
import { refuseCompressed } from "./compressed.ts";
import { sweepAbandonedExtractions } from "./sweep.ts";

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

/** An archive opened as an image source, plus what was found in it. */
export interface OpenedArchive {
  source: LayoutSource;
  archive: ExtractedArchive;
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
