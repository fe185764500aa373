/**
 * A lock file: exclusive creation of a file (0600) holding its owner's
 * identity — pid, host, boot id, process start time (`lock_owner.ts`) — and
 * a random nonce. Waiters poll until it is released, saying once who they
 * wait for. A lock whose owner is gone is broken, with one notice saying so:
 * the process exited or crashed, the machine restarted, or the pid now
 * belongs to another process. A symbolic link in the lock's place is never
 * a lock: it is removed (never followed) and the lock taken. When the owner
 * cannot be checked (another host sharing the directory, `/proc` not
 * readable under least-privilege permissions), the holder's heartbeat (the
 * file's mtime, touched every 30 s) decides: untouched for 5 minutes is
 * stale. Guards the data directory so two updates at once end consistent.
 *
 * @module
 */

import { dirname } from "node:path";
import { IoError } from "../errors/errors.ts";
import { ensureDir } from "../fs/atomic.ts";
import { interruptSignal } from "../process/interrupt.ts";
import { currentOwner, hostname, type LockOwner, ownerStatus } from "./lock_owner.ts";

/** Options of {@linkcode withLock}. */
export interface LockOptions {
  /** Give up after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
  /** Poll interval in milliseconds (default 100). */
  pollMs?: number;
  /**
   * One-line notices: waiting for a live holder (once per holder), a stale
   * lock or a symlink removed. The command's progress channel.
   */
  notice?: (line: string) => void;
  /** Stop waiting (rejecting with its reason) when this aborts (default: the process's interrupt). */
  signal?: AbortSignal;
}

interface LockContent extends LockOwner {
  nonce: string;
}

/** What is at the lock's path. */
type Found =
  | { kind: "none" }
  | { kind: "lock"; lock: LockContent }
  | { kind: "unreadable" }
  | { kind: "symlink"; target: string }
  | { kind: "other"; what: string };

/**
 * A holder touches its lock this often, so a lock whose owner cannot be
 * checked (another host, no readable `/proc`) is stale once it has not been
 * touched for {@linkcode UNCHECKABLE_STALE_MS}, however long the update.
 */
const HEARTBEAT_MS = 30 * 1000;
/** A lock untouched this long, whose owner cannot be checked, is considered stale. */
const UNCHECKABLE_STALE_MS = 5 * 60 * 1000;
/** A lock file is a few hundred bytes; anything much larger is not ours. */
const MAX_LOCK_BYTES = 64 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function nonce(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16)).join("");
}

function since(ms: number): string {
  return Number.isFinite(ms)
    ? new Date(ms).toISOString().replace(/\.\d+Z$/, "Z")
    : "an unknown time";
}

function isLockContent(doc: unknown): doc is LockContent {
  const d = doc as LockContent;
  return typeof d === "object" && d !== null && Number.isSafeInteger(d.pid) &&
    typeof d.nonce === "string" && typeof d.host === "string" && typeof d.created === "number" &&
    (d.bootId === undefined || typeof d.bootId === "string") &&
    (d.startTime === undefined || typeof d.startTime === "string");
}

/** What is at `path`, without following a symbolic link. */
async function readLock(path: string): Promise<Found> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { kind: "none" };
    throw e;
  }
  if (info.isSymlink) {
    return { kind: "symlink", target: await Deno.readLink(path).catch(() => "?") };
  }
  if (!info.isFile) return { kind: "other", what: info.isDirectory ? "a directory" : "not a file" };
  if (info.size > MAX_LOCK_BYTES) return { kind: "unreadable" };
  try {
    const doc = JSON.parse(await Deno.readTextFile(path));
    return isLockContent(doc) ? { kind: "lock", lock: doc } : { kind: "unreadable" };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { kind: "none" };
    return { kind: "unreadable" };
  }
}

/** Why `found` may be removed, or undefined while its owner may still run. */
async function staleReason(path: string, found: Found): Promise<string | undefined> {
  if (found.kind === "symlink") return `a symbolic link (to ${found.target}) is not a lock`;
  if (found.kind === "lock") {
    const owner = await ownerStatus(found.lock);
    if (owner.status === "alive") return undefined;
    if (owner.status === "gone") {
      return `taken by pid ${found.lock.pid} at ${since(found.lock.created)}; ${owner.reason}`;
    }
  }
  // Another host, no /proc, or a lock nobody can read: only its age tells.
  try {
    const info = await Deno.lstat(path);
    const age = Date.now() - (info.mtime?.getTime() ?? Date.now());
    return age > UNCHECKABLE_STALE_MS
      ? `its owner cannot be checked and it was last touched ${Math.round(age / 60000)} minutes ago`
      : undefined;
  } catch {
    return undefined;
  }
}

/** Is `moved` (set aside) the very lock `seen` was? */
function sameLock(seen: Found, moved: Found): boolean {
  if (seen.kind === "lock") return moved.kind === "lock" && moved.lock.nonce === seen.lock.nonce;
  if (seen.kind === "symlink") return moved.kind === "symlink" && moved.target === seen.target;
  return moved.kind === seen.kind;
}

/** Remove a stale lock unless someone replaced it meanwhile; true when removed. */
async function breakLock(path: string, seen: Found): Promise<boolean> {
  const aside = `${path}.stale.${nonce()}`;
  try {
    await Deno.rename(path, aside); // renames a symlink itself, never its target
  } catch {
    return false; // someone else broke or released it
  }
  const same = sameLock(seen, await readLock(aside));
  if (!same) {
    // We moved a fresh lock: put it back (fails only if yet another one exists).
    await Deno.link(aside, path).catch(() => {});
  }
  await Deno.remove(aside).catch(() => {});
  return same;
}

/** Create `path` exclusively (0600 whatever the umask) holding `content`; nothing left on failure. */
async function writeNew(path: string, content: LockContent): Promise<void> {
  const f = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  try {
    try {
      await Deno.chmod(path, 0o600);
      const bytes = new TextEncoder().encode(JSON.stringify(content));
      let off = 0;
      while (off < bytes.byteLength) off += await f.write(bytes.subarray(off));
      await f.sync();
    } finally {
      f.close();
    }
  } catch (e) {
    // A full disk: no empty or partial file may stay behind.
    await Deno.remove(path).catch(() => {});
    throw e;
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

function holder(found: Found): string {
  switch (found.kind) {
    case "lock": {
      const l = found.lock;
      const host = l.host === hostname() ? "" : ` on ${l.host}`;
      return `pid ${l.pid}${host} since ${since(l.created)}`;
    }
    case "unreadable":
      return "an unreadable owner";
    default:
      return "another process";
  }
}

/**
 * Run `fn` holding the lock file `path` (created exclusively, 0600, in a
 * directory created 0700 if missing; removed afterwards). Waits while
 * another live process or task holds it; breaks it when its owner is gone.
 * @throws IoError when the lock cannot be taken in time, or its path holds
 *   something that is not a lock file (a directory).
 */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 10 * 60 * 1000);
  const notice = options.notice ?? (() => {});
  const signal = options.signal ?? interruptSignal();
  const mine: LockContent = { ...await currentOwner(started), nonce: nonce() };
  let announced: string | undefined;
  try {
    await ensureDir(dirname(path), 0o700);
  } catch (e) {
    throw new IoError(`cannot create ${dirname(path)}: ${(e as Error).message}`, { cause: e });
  }
  for (;;) {
    try {
      if (await tryCreate(path, mine)) break;
    } catch (e) {
      throw new IoError(`cannot create lock ${path}: ${(e as Error).message}`, {
        cause: e,
        hint: "check that the data directory's disk has free space and is writable",
      });
    }
    const found = await readLock(path);
    if (found.kind === "none") continue; // released meanwhile
    if (found.kind === "other") {
      throw new IoError(`${path} is ${found.what}, not a lock file`, {
        hint: `remove ${path} (no update should be running)`,
      });
    }
    const stale = await staleReason(path, found);
    if (stale !== undefined) {
      if (await breakLock(path, found)) notice(`removed stale lock ${path}: ${stale}`);
      continue;
    }
    if (Date.now() > deadline) {
      throw new IoError(
        `${path} is held by ${holder(found)}; gave up after ${
          Math.round((Date.now() - started) / 1000)
        } s`,
        { hint: "wait for the other update to finish, or remove the lock if no update is running" },
      );
    }
    const who = found.kind === "lock" ? found.lock.nonce : found.kind;
    if (who !== announced) {
      announced = who;
      notice(`waiting for ${path} held by ${holder(found)}`);
    }
    signal.throwIfAborted();
    await sleep(options.pollMs ?? 100);
    signal.throwIfAborted();
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    Deno.utime(path, now, now).catch(() => {});
  }, HEARTBEAT_MS);
  Deno.unrefTimer(heartbeat);
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    const now = await readLock(path).catch((): Found => ({ kind: "none" }));
    if (now.kind === "lock" && now.lock.nonce === mine.nonce) {
      await Deno.remove(path).catch(() => {});
    }
  }
}
