/**
 * One pass over an archive's tar: every entry's name, type and size is
 * checked from its header (before a byte of it is used), duplicates and
 * too many entries are refused, the layout's JSON files and the carried TUF
 * chain are read (bounded), and each blob entry is handed to a callback.
 *
 * @module
 */

import { readAllLimited } from "../fs/read_limited.ts";
import { createTarDecoder } from "../npm/modern_tar.ts";
import { DzError, IoError } from "../errors/errors.ts";
import type { Progress } from "../progress/progress.ts";
import {
  ArchiveError,
  type ArchiveLimits,
  classifyEntry,
  normalizeEntryName,
} from "./layout_tar.ts";
import { CHAIN_FILE } from "../trust/tuf_files.ts";
import { TUF_ARCHIVE_DIR } from "./write.ts";
import { ChunkRecycler, fileChunks } from "./chunk_reader.ts";

/** Read `stream` whole, refusing more than `limit` bytes as an {@linkcode ArchiveError}. */
export function readAll(stream: ReadableStream<Uint8Array>, limit: number, what: string) {
  return readAllLimited(
    stream,
    limit,
    () => new ArchiveError(`${what} is larger than ${limit} bytes`),
  );
}

/** One blob entry, as the tar walk hands it over. */
export interface BlobEntry {
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
export interface Walk {
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
export async function walkArchive(
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
