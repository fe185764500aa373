/**
 * The resume area: partial blob downloads kept in a private directory of
 * the data dir (`<data-dir>/partial/<hex>`, the directory 0700, files
 * 0600), so a transfer cut by a dropped connection, a stall or Ctrl-C
 * continues where it stopped, in this run or the next. Nothing about a
 * partial file is trusted: when it is opened again its bytes are read back
 * from disk and hashed (the hash state is always recomputed, never stored),
 * and the full digest is checked once the blob is complete. Stale partials
 * (older than {@linkcode ResumeStoreOptions.maxAgeMs}, or beyond the size
 * cap, oldest first) are removed.
 *
 * @module
 */

import { join } from "node:path";
import { createHash, type Hash } from "node:crypto";
import { digestHex } from "../digest/digest.ts";
import { ensureDir, PRIVATE } from "../fs/atomic.ts";

/** Limits of a {@linkcode ResumeStore}. */
export interface ResumeStoreOptions {
  /** A partial untouched this long is removed (ms, default 7 days). */
  maxAgeMs?: number;
  /** Partials together may hold at most this many bytes (default 4 GiB); the oldest go first. */
  maxBytes?: number;
  /** Wall clock in ms (default `Date.now`). */
  now?: () => number;
}

/** Defaults of {@linkcode ResumeStoreOptions}. */
const RESUME_DEFAULTS = {
  maxAgeMs: 7 * 24 * 3600 * 1000,
  maxBytes: 4 * 1024 * 1024 * 1024,
} as const;

const HEX64 = /^[0-9a-f]{64}$/;
const READ_CHUNK = 1024 * 1024;

/** A partial download opened for appending; its hash covers exactly the bytes on disk. */
export class PartialBlob {
  #hash: Hash;
  #offset: number;
  /** Bytes found on disk (and re-hashed) when it was opened. */
  readonly resumedFrom: number;

  constructor(
    readonly path: string,
    readonly file: Deno.FsFile,
    offset: number,
    hash: Hash,
  ) {
    this.#offset = offset;
    this.#hash = hash;
    this.resumedFrom = offset;
  }

  /** Bytes held. */
  get offset(): number {
    return this.#offset;
  }

  /** Append bytes (written in full, then hashed). */
  async append(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.byteLength) off += await this.file.write(chunk.subarray(off));
    this.#hash.update(chunk);
    this.#offset += chunk.byteLength;
  }

  /** Drop everything: back to 0 bytes, a fresh hash. */
  async truncate(): Promise<void> {
    await this.file.truncate(0);
    await this.file.seek(0, Deno.SeekMode.Start);
    this.#hash = createHash("sha256");
    this.#offset = 0;
  }

  /** `sha256:<hex>` of the bytes held (the running hash is left usable). */
  digest(): string {
    return `sha256:${this.#hash.copy().digest("hex")}`;
  }

  /** Close the file (it stays on disk). */
  close(): void {
    try {
      this.file.close();
    } catch {
      // already closed
    }
  }
}

/** Partial downloads under one directory. */
export class ResumeStore {
  readonly maxAgeMs: number;
  readonly maxBytes: number;
  readonly now: () => number;
  #swept: Promise<void> | undefined;

  constructor(readonly dir: string, options: ResumeStoreOptions = {}) {
    this.maxAgeMs = options.maxAgeMs ?? RESUME_DEFAULTS.maxAgeMs;
    this.maxBytes = options.maxBytes ?? RESUME_DEFAULTS.maxBytes;
    this.now = options.now ?? Date.now;
  }

  /** The store of a data directory: `<dataDir>/partial`. */
  static forDataDir(dataDir: string, options: ResumeStoreOptions = {}): ResumeStore {
    return new ResumeStore(join(dataDir, "partial"), options);
  }

  /** Path of the partial file of `digest` (validated, so no path can escape). */
  path(digest: string): string {
    return join(this.dir, digestHex(digest));
  }

  async #ensureDir(): Promise<void> {
    await ensureDir(this.dir, PRIVATE.dirMode);
    const info = await Deno.lstat(this.dir);
    if (!info.isDirectory) throw new Deno.errors.NotADirectory(`${this.dir} is not a directory`);
    if (Deno.build.os !== "windows" && (info.mode! & 0o777) !== 0o700) {
      await Deno.chmod(this.dir, 0o700);
    }
  }

  /**
   * Open the partial of `descriptor` for appending, creating it when
   * absent. What is on disk is read back and hashed first; a file longer
   * than the blob, or not a regular file, is discarded.
   */
  async open(descriptor: { digest: string; size: number }): Promise<PartialBlob> {
    await this.#ensureDir();
    await this.sweep(new Set([digestHex(descriptor.digest)]));
    const path = this.path(descriptor.digest);
    try {
      const info = await Deno.lstat(path);
      if (!info.isFile || info.size > descriptor.size) await Deno.remove(path, { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
    try {
      if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
      const hash = createHash("sha256");
      const buf = new Uint8Array(READ_CHUNK);
      let offset = 0;
      for (;;) {
        const n = await file.read(buf);
        if (n === null) break;
        hash.update(buf.subarray(0, n));
        offset += n;
      }
      await file.seek(offset, Deno.SeekMode.Start);
      return new PartialBlob(path, file, offset, hash);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  /** Forget the partial of `digest`. */
  async remove(digest: string): Promise<void> {
    await Deno.remove(this.path(digest)).catch(() => {});
  }

  /** The partials held: name, size, last change (ms). */
  async list(): Promise<{ name: string; size: number; mtime: number }[]> {
    const out: { name: string; size: number; mtime: number }[] = [];
    try {
      for await (const e of Deno.readDir(this.dir)) {
        try {
          const info = await Deno.lstat(join(this.dir, e.name));
          out.push({ name: e.name, size: info.size, mtime: info.mtime?.getTime() ?? 0 });
        } catch {
          // removed meanwhile
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return out;
  }

  /** Bytes kept for resuming. */
  async keptBytes(): Promise<number> {
    return (await this.list()).reduce((n, f) => n + f.size, 0);
  }

  /**
   * Remove what is no longer useful: entries that are not a partial blob,
   * partials older than `maxAgeMs`, then the oldest until the rest fit
   * `maxBytes`. Names in `keep` stay. Runs once per store instance.
   */
  sweep(keep: ReadonlySet<string> = new Set()): Promise<void> {
    this.#swept ??= this.#sweep(keep).catch(() => {});
    return this.#swept;
  }

  async #sweep(keep: ReadonlySet<string>): Promise<void> {
    const now = this.now();
    const files = await this.list();
    const live: typeof files = [];
    for (const f of files) {
      const stale = !HEX64.test(f.name) || now - f.mtime > this.maxAgeMs;
      if (stale && !keep.has(f.name)) {
        await Deno.remove(join(this.dir, f.name), { recursive: true }).catch(() => {});
      } else live.push(f);
    }
    let total = live.reduce((n, f) => n + f.size, 0);
    for (const f of live.sort((a, b) => a.mtime - b.mtime)) {
      if (total <= this.maxBytes) break;
      if (keep.has(f.name)) continue;
      await Deno.remove(join(this.dir, f.name)).catch(() => {});
      total -= f.size;
    }
  }
}
