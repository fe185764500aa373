/**
 * The TUF cache in the data directory: `<data-dir>/tuf/<repository>/`, one
 * flat directory of chain files (`N.root.json` for every root version
 * since the anchor, `timestamp.json`, `snapshot.json`, `targets.json`,
 * `trusted_root.json`). Written only with a chain that verified from the
 * anchor (`tuf_chain.ts`), file by file atomically, the target first and
 * the timestamp last; read back with the target checked against the
 * cached targets metadata, so a torn write is seen, never trusted.
 *
 * @module
 */

import { join } from "node:path";
import { Readable } from "node:stream";
import { Metadata, MetadataKind } from "../npm/tufjs_models.ts";
import { writeFileAtomic } from "../fs/atomic.ts";
import { rootFacts, TRUSTED_ROOT_TARGET } from "./tuf_anchor.ts";
import { CHAIN_FILE, type ChainFiles, MAX_CHAIN_FILE_BYTES, newestRoot } from "./tuf_files.ts";

/** The cache directory of the repository at `url`. */
export function tufCacheDir(dataDir: string, url: string): string {
  const u = new URL(url);
  return join(dataDir, "tuf", encodeURIComponent(u.host + u.pathname.replace(/\/+$/, "")));
}

/** Read every chain file in `dir` (none when it does not exist). */
export async function readChainFiles(dir: string): Promise<ChainFiles> {
  const files: ChainFiles = new Map();
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !CHAIN_FILE.test(e.name)) continue;
      const path = join(dir, e.name);
      if ((await Deno.stat(path)).size > MAX_CHAIN_FILE_BYTES) continue;
      files.set(e.name, await Deno.readFile(path));
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return files;
    throw e;
  }
  return files;
}

/** Store a verified chain (target first, timestamp last: see the module doc). */
export async function writeChainFiles(dir: string, files: ReadonlyMap<string, Uint8Array>) {
  const order = (n: string) =>
    n.endsWith(".root.json")
      ? 0
      : [TRUSTED_ROOT_TARGET, "targets.json", "snapshot.json", "timestamp.json"].indexOf(n) + 1;
  const names = [...files.keys()].filter((n) => CHAIN_FILE.test(n)).sort((a, b) =>
    order(a) - order(b)
  );
  for (const n of names) {
    await writeFileAtomic(join(dir, n), files.get(n)!, { mode: 0o644 });
  }
}

/** What a held (cached) chain says. */
export interface HeldChain {
  files: ChainFiles;
  rootVersion: number;
  rootExpires: string;
  timestampVersion: number;
  timestampExpires: string;
  /** Earliest expiry of root, timestamp, snapshot, targets. */
  expires: string;
  trustedRoot: Uint8Array;
}

const decoder = new TextDecoder();

/**
 * The cached chain, when it is complete and its `trusted_root.json` matches
 * the cached targets metadata; `undefined` otherwise (a reason is given to
 * `why`, except for an empty cache).
 */
export async function heldChain(
  files: ReadonlyMap<string, Uint8Array>,
  why?: (reason: string) => void,
): Promise<HeldChain | undefined> {
  if (files.size === 0) return undefined;
  const root = newestRoot(files);
  const need = ["timestamp.json", "snapshot.json", "targets.json", TRUSTED_ROOT_TARGET];
  const missing = need.filter((n) => !files.has(n));
  if (!root || missing.length > 0) {
    why?.(`the TUF cache lacks ${[...(root ? [] : ["root"]), ...missing].join(", ")}`);
    return undefined;
  }
  try {
    const facts = rootFacts(root);
    const parse = (n: string) => JSON.parse(decoder.decode(files.get(n)!));
    const ts = Metadata.fromJSON(MetadataKind.Timestamp, parse("timestamp.json"));
    const snap = Metadata.fromJSON(MetadataKind.Snapshot, parse("snapshot.json"));
    const targets = Metadata.fromJSON(MetadataKind.Targets, parse("targets.json"));
    const info = targets.signed.targets[TRUSTED_ROOT_TARGET];
    if (!info) throw new Error(`targets.json lists no ${TRUSTED_ROOT_TARGET}`);
    const trustedRoot = files.get(TRUSTED_ROOT_TARGET)!;
    await info.verify(Readable.from([trustedRoot]));
    const expiries = [facts.expires, ts.signed.expires, snap.signed.expires, targets.signed.expires]
      .sort((a, b) => Date.parse(a) - Date.parse(b));
    return {
      files: new Map(files),
      rootVersion: facts.version,
      rootExpires: facts.expires,
      timestampVersion: ts.signed.version,
      timestampExpires: ts.signed.expires,
      expires: expiries[0],
      trustedRoot,
    };
  } catch (e) {
    why?.(`the TUF cache is inconsistent: ${(e as Error).message}`);
    return undefined;
  }
}
