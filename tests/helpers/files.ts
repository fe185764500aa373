/**
 * File-level helpers for tests: a snapshot of state directories (to show
 * that a refused command changed nothing) and a rewrite of a small archive's
 * members (to make tampered archives).
 *
 * @module
 */

import { join } from "node:path";
import { packTar, type TarEntry, unpackTar } from "modern-tar";

/**
 * Every file under the dirs → its content; blobs (under `blobs/`) by name
 * only, the lock file ignored. Missing dirs contribute nothing.
 */
export async function snapshot(...dirs: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else if (p.includes("/blobs/")) out.set(p, "blob");
      else if (e.name !== "lock") out.set(p, await Deno.readTextFile(p));
    }
  };
  for (const d of dirs) await walk(d);
  return out;
}

/** Rewrite a (small) archive's regular files through `edit`, into `dst`. */
export async function rewriteArchive(
  src: string,
  dst: string,
  edit: (files: Map<string, Uint8Array>) => void,
): Promise<void> {
  const files = new Map<string, Uint8Array>();
  for (const e of await unpackTar(await Deno.readFile(src))) {
    if (e.data && e.header.type === "file") files.set(e.header.name, e.data);
  }
  edit(files);
  const entries: TarEntry[] = [...files].map(([name, data]) => ({
    header: { name, size: data.byteLength, type: "file" },
    body: data,
  }));
  await Deno.writeFile(dst, await packTar(entries));
}

/** Does `path` exist (as anything, a dangling symlink included)? */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
