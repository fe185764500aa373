/**
 * A lock file: exclusive creation of a file holding the owner's pid, host
 * and a random nonce. Waiters poll until it is released; a lock left by a
 * process that no longer exists on this host (a crash, SIGKILL) is broken.
 * Guards the data directory so two updates at once end consistent.
 *
 * @module
 */

import { dirname } from "node:path";
import { IoError } from "../cli/errors.ts";

/** Options of {@linkcode withLock}. */
export interface LockOptions {
  /** Give up after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
  /** Poll interval in milliseconds (default 100). */
  pollMs?: number;
}

interface LockContent {
  pid: number;
  host: string;
  nonce: string;
  created: number;
}

/** A lock older than this, whose owner cannot be checked, is considered stale. */
const UNCHECKABLE_STALE_MS = 60 * 60 * 1000;

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function nonce(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16)).join("");
}

async function readLock(path: string): Promise<LockContent | undefined | "unreadable"> {
  try {
    const doc = JSON.parse(await Deno.readTextFile(path)) as LockContent;
    return typeof doc?.pid === "number" && typeof doc.nonce === "string" ? doc : "unreadable";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    return "unreadable";
  }
}

/** Is the owner of `lock` certainly gone? */
async function isStale(path: string, lock: LockContent | "unreadable"): Promise<boolean> {
  if (lock !== "unreadable" && lock.host === hostname() && Deno.build.os === "linux") {
    try {
      await Deno.stat(`/proc/${lock.pid}`);
      return false;
    } catch {
      return true;
    }
  }
  try {
    const info = await Deno.stat(path);
    return Date.now() - (info.mtime?.getTime() ?? Date.now()) > UNCHECKABLE_STALE_MS;
  } catch {
    return false;
  }
}

/** Remove a stale lock unless someone replaced it meanwhile. */
async function breakLock(path: string, seen: LockContent | "unreadable"): Promise<void> {
  const aside = `${path}.stale.${nonce()}`;
  try {
    await Deno.rename(path, aside);
  } catch {
    return; // someone else broke or released it
  }
  const moved = await readLock(aside);
  const same = seen === "unreadable"
    ? moved === "unreadable"
    : moved !== undefined && moved !== "unreadable" && moved.nonce === seen.nonce;
  if (!same) {
    // We moved a fresh lock: put it back (fails only if yet another one exists).
    await Deno.link(aside, path).catch(() => {});
  }
  await Deno.remove(aside).catch(() => {});
}

async function writeNew(path: string, content: LockContent): Promise<void> {
  const f = await Deno.open(path, { write: true, createNew: true, mode: 0o644 });
  try {
    await f.write(new TextEncoder().encode(JSON.stringify(content)));
    await f.sync();
  } finally {
    f.close();
  }
}

/**
 * Create the lock file holding `mine`; false when it exists. The content is
 * written to a temp file first and hard-linked into place, so the lock never
 * exists without its owner: a process killed half-way leaves no lock (or a
 * complete one, which is then broken as stale), never an empty one that
 * nobody could tell is stale. Filesystems without hard links fall back to
 * an exclusive create.
 */
async function tryCreate(path: string, mine: LockContent): Promise<boolean> {
  const tmp = `${path}.${mine.nonce}.tmp`;
  await writeNew(tmp, mine);
  try {
    await Deno.link(tmp, path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  try {
    await writeNew(path, mine);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw e;
  }
}

/**
 * Run `fn` holding the lock file `path` (created exclusively; removed
 * afterwards). Waits while another live process or task holds it.
 * @throws IoError when the lock cannot be taken in time.
 */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60 * 1000);
  const mine: LockContent = {
    pid: Deno.pid,
    host: hostname(),
    nonce: nonce(),
    created: Date.now(),
  };
  await Deno.mkdir(dirname(path), { recursive: true });
  for (;;) {
    try {
      if (await tryCreate(path, mine)) break;
    } catch (e) {
      throw new IoError(`cannot create lock ${path}: ${(e as Error).message}`, { cause: e });
    }
    const held = await readLock(path);
    if (held !== undefined && await isStale(path, held)) {
      await breakLock(path, held);
      continue;
    }
    if (Date.now() > deadline) {
      throw new IoError(`${path} is held by another process (${JSON.stringify(held)})`, {
        hint: "wait for the other update to finish, or remove the lock if no update is running",
      });
    }
    await sleep(options.pollMs ?? 100);
  }
  try {
    return await fn();
  } finally {
    const now = await readLock(path);
    if (now !== undefined && now !== "unreadable" && now.nonce === mine.nonce) {
      await Deno.remove(path).catch(() => {});
    }
  }
}
