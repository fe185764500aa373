/**
 * Whole-file sha256 on both cores. {@linkcode hashFile} hands a file to a
 * worker (its code is the string below, started from a `data:` URL, so the
 * one-file bundle and `deno compile` need no extra file), which reads it
 * itself and answers its digest and size: nothing passes through the main
 * thread. While the worker is busy, the next file is hashed on the main
 * thread, so two files hashed at once keep both cores busy. Either way the
 * file is read in 1 MiB buffers, the next read in flight while the current
 * one is hashed.
 *
 * Nothing here decides what is trusted: callers compare the digest and size
 * they get with the ones they expect, exactly as with `node:crypto` on the
 * main thread. Where a worker cannot start, the main thread does the work.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";

/**
 * The worker's code: one file at a time, in order. Plain strings joined at
 * run time (no template, no line of its own starting with `import`), so the
 * one-file bundle's rewriting of `node:` imports leaves it alone.
 */
const WORKER_SOURCE = [
  'import { createHash } from "node:crypto";',
  "const B = 1024 * 1024;",
  "self.onmessage = async ({ data: m }) => {",
  "  try {",
  '    const h = createHash("sha256");',
  "    const f = await Deno.open(m.path, { read: true });",
  "    let size = 0;",
  "    try {",
  "      const bufs = [new Uint8Array(B), new Uint8Array(B)];",
  "      let i = 0;",
  "      let pending = f.read(bufs[0]);",
  "      for (;;) {",
  "        const n = await pending;",
  "        if (n === null) break;",
  "        const cur = bufs[i];",
  "        size += n;",
  "        if (size > m.limit) break;",
  "        i ^= 1;",
  "        pending = f.read(bufs[i]);",
  "        h.update(cur.subarray(0, n));",
  "      }",
  "    } finally {",
  "      f.close();",
  "    }",
  '    self.postMessage({ id: m.id, digest: "sha256:" + h.digest("hex"), size });',
  "  } catch (e) {",
  "    self.postMessage({ id: m.id, error: String(e?.message ?? e) });",
  "  }",
  "};",
].join("\n");

interface Reply {
  id: number;
  digest?: string;
  size?: number;
  error?: string;
}

/**
 * The one worker (two cores: the main thread and it; a worker is a whole
 * isolate, about 17 MiB resident with Node's crypto loaded), started on
 * first use and ended shortly after its last job, so it never holds the
 * process open.
 */
class HashWorker {
  #worker: Worker | undefined;
  #unavailable = false;
  #idle: ReturnType<typeof setTimeout> | undefined;
  readonly #waiting = new Map<number, (r: Reply) => void>();
  #nextId = 1;

  /** Is it free to take a file now? */
  get free(): boolean {
    return !this.#unavailable && this.#waiting.size === 0;
  }

  #start(): Worker | undefined {
    if (this.#worker) return this.#worker;
    try {
      const url = `data:application/javascript;base64,${btoa(WORKER_SOURCE)}`;
      const w = new Worker(url, { type: "module" });
      w.onmessage = (e: MessageEvent<Reply>) => {
        const done = this.#waiting.get(e.data.id);
        this.#waiting.delete(e.data.id);
        done?.(e.data);
        this.#idleSoon();
      };
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        this.close();
        this.#unavailable = true;
      };
      this.#worker = w;
      return w;
    } catch {
      this.#unavailable = true; // no workers here: the main thread hashes
      return undefined;
    }
  }

  /** Hash `path` on the worker; undefined when it cannot. */
  hash(path: string, limit: number): Promise<Reply> | undefined {
    const w = this.#start();
    if (!w) return undefined;
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#idle = undefined;
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      w.postMessage({ id, path, limit });
    });
  }

  #idleSoon(): void {
    if (this.#waiting.size > 0) return;
    this.#idle = setTimeout(() => this.close(), 200);
    Deno.unrefTimer(this.#idle);
  }

  /** End the worker now (it is started again when needed); pending hashes fail. */
  close(): void {
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#idle = undefined;
    this.#worker?.terminate();
    this.#worker = undefined;
    for (const done of this.#waiting.values()) done({ id: 0, error: "the hash worker ended" });
    this.#waiting.clear();
  }
}

const worker = new HashWorker();

const READ_BUFFER = 1024 * 1024;

/** Hash `path` on this thread, reading at most `limit` + 1 bytes; returns the bytes read. */
async function hashFileHere(hash: Hash, path: string, limit: number): Promise<number> {
  const f = await Deno.open(path, { read: true });
  try {
    const bufs = [new Uint8Array(READ_BUFFER), new Uint8Array(READ_BUFFER)];
    let i = 0;
    let size = 0;
    let pending = f.read(bufs[0]);
    for (;;) {
      const n = await pending;
      if (n === null) return size;
      const current = bufs[i];
      size += n;
      if (size > limit) return size;
      i ^= 1;
      pending = f.read(bufs[i]);
      hash.update(current.subarray(0, n));
    }
  } finally {
    f.close();
  }
}

/**
 * The sha256 (`sha256:<hex>`) and length of the file at `path`: read by
 * the worker when it is free, else on this thread. Reading stops once more
 * than `limit` bytes came (the size then says so, and the digest covers
 * only part of the file): a caller expecting N bytes passes N.
 * @throws the file's read error (NotFound, PermissionDenied…)
 */
export async function hashFile(
  path: string,
  limit = Number.MAX_SAFE_INTEGER,
): Promise<{ digest: string; size: number }> {
  const off = worker.free ? worker.hash(path, limit) : undefined;
  if (off) {
    const r = await off;
    if (r.error === undefined) return { digest: r.digest!, size: r.size! };
    // The worker could not (a read error, or it ended): here, its error is the file's own.
  }
  const h = createHash("sha256");
  const size = await hashFileHere(h, path, limit);
  return { digest: `sha256:${h.digest("hex")}`, size };
}

/** End the hash worker now (tests; it is started again when needed). */
export function closeHashWorker(): void {
  worker.close();
}
