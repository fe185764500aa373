/**
 * Extraction directories left behind by a killed `load-archive`.
 *
 * @module
 */

import { join } from "node:path";

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
