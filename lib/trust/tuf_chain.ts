/**
 * Verify a chain of TUF metadata from a local anchor with tuf-js, the TUF
 * client workflow exactly (root rotation one version at a time, each new
 * root signed by the old and the new keys; timestamp → snapshot → targets
 * with their versions, hashes and expiry; rollback protection against the
 * metadata already held), then the `trusted_root.json` target against the
 * hash and length the verified targets metadata gives.
 *
 * A chain is a set of files named as in the cache and in archives:
 * `N.root.json` (every root version known), `timestamp.json`,
 * `snapshot.json`, `targets.json` and `trusted_root.json`. The same
 * function refreshes from the network ({@linkcode httpTufFetcher}) and
 * checks a carried chain ({@linkcode filesTufFetcher}); tuf-js writes only
 * into a private staging directory, removed afterwards, so a refusal
 * leaves the held chain as it was. tuf-js reads the clock itself (its
 * reference time is the start of the update).
 *
 * @module
 */

import { Readable } from "node:stream";
import { join } from "node:path";
import { type Fetcher, Updater } from "../npm/tuf_js.ts";
import { DzError, TrustMaterialError } from "../errors/errors.ts";
import { rootFacts, TRUSTED_ROOT_TARGET } from "./tuf_anchor.ts";
import type { HeldChain } from "./tuf_cache.ts";
import { type ChainFiles, newestRoot } from "./tuf_files.ts";
import { isPermissionError } from "../fs/read_file.ts";

/** A chain that verified from the anchor: what a held chain says, and whether it changed. */
export interface VerifiedChain extends HeldChain {
  /** Whether anything differs from the chain held before. */
  changed: boolean;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && a.byteLength === b.byteLength &&
    a.every((x, i) => x === b[i]);
}

function signedOf(bytes: Uint8Array): { version: number; expires: string } {
  const s = JSON.parse(new TextDecoder().decode(bytes)).signed;
  return { version: s.version, expires: s.expires };
}

/** One line for a tuf-js (or transport) failure. */
export function tufFailure(e: unknown): string {
  const err = e as Error;
  const cls = err?.name && err.name !== "Error" ? err.name : err?.constructor?.name;
  const name = cls && cls !== "Error" && cls !== "Object" ? `${cls}: ` : "";
  return `${name}${err?.message ?? String(e)}`.replace(/\s+/g, " ").trim();
}

/** What {@linkcode updateChain} needs. */
export interface UpdateChainOptions {
  /** The repository's metadata base URL (also names the files asked of `fetcher`). */
  url: string;
  /** The anchor root (embedded, or the user's file). */
  anchorRoot: Uint8Array;
  /** The chain held locally (the cache), verified earlier from the same anchor. */
  held?: ReadonlyMap<string, Uint8Array>;
  fetcher: Fetcher;
  /** Parent of the private staging directory (inside the data dir). */
  workDir: string;
}

/**
 * Run the TUF client workflow from the newer of the anchor and the held
 * root, with the held timestamp / snapshot / targets as the rollback
 * reference, and return the verified chain.
 * @throws TrustMaterialError when the chain does not verify; the fetcher's
 * errors (NetworkError…) when files cannot be fetched.
 */
export async function updateChain(opts: UpdateChainOptions): Promise<VerifiedChain> {
  const held = opts.held ?? new Map<string, Uint8Array>();
  const heldRoot = newestRoot(held);
  const anchorVersion = rootFacts(opts.anchorRoot, "the anchor root").version;
  const start = heldRoot && rootFacts(heldRoot).version >= anchorVersion
    ? heldRoot
    : opts.anchorRoot;

  await Deno.mkdir(opts.workDir, { recursive: true });
  const staging = await Deno.makeTempDir({ dir: opts.workDir, prefix: ".staging-" });
  const fetchedRoots: ChainFiles = new Map();
  const recording: Fetcher = {
    downloadFile: (u, n, h) => opts.fetcher.downloadFile(u, n, h),
    async downloadBytes(u, n) {
      const bytes = await opts.fetcher.downloadBytes(u, n);
      const base = u.slice(u.lastIndexOf("/") + 1);
      if (/^[1-9][0-9]*\.root\.json$/.test(base)) fetchedRoots.set(base, new Uint8Array(bytes));
      return bytes;
    },
  };
  try {
    await Deno.writeFile(join(staging, "root.json"), start);
    for (const role of ["timestamp", "snapshot", "targets"]) {
      const b = held.get(`${role}.json`);
      if (b) await Deno.writeFile(join(staging, `${role}.json`), b);
    }
    let target: Uint8Array;
    let updater: Updater;
    try {
      updater = new Updater({
        metadataDir: staging,
        metadataBaseUrl: opts.url,
        targetBaseUrl: `${opts.url}/targets`,
        targetDir: staging,
        fetcher: recording,
      });
      await updater.refresh();
      const info = await updater.getTargetInfo(TRUSTED_ROOT_TARGET);
      if (!info) throw new Error(`the targets metadata lists no ${TRUSTED_ROOT_TARGET}`);
      if (!info.hashes.sha256 && !info.hashes.sha512) {
        throw new Error(`${TRUSTED_ROOT_TARGET} has no sha256 or sha512 hash`);
      }
      const candidate = held.get(TRUSTED_ROOT_TARGET);
      const verifies = async (b: Uint8Array) => {
        try {
          await info.verify(Readable.from([b]));
          return true;
        } catch {
          return false;
        }
      };
      if (candidate && await verifies(candidate)) {
        target = candidate;
      } else {
        const consistent = rootFacts(await Deno.readFile(join(staging, "root.json")))
          .consistentSnapshot;
        const name = consistent
          ? `${Object.values(info.hashes)[0]}.${TRUSTED_ROOT_TARGET}`
          : TRUSTED_ROOT_TARGET;
        target = new Uint8Array(
          await recording.downloadBytes(`${opts.url}/targets/${name}`, info.length),
        );
        await info.verify(Readable.from([target]));
      }
    } catch (e) {
      if (isPermissionError(e)) throw e;
      if (e instanceof DzError) throw e; // our own errors: the network, the transport
      throw new TrustMaterialError(`TUF metadata refused: ${tufFailure(e)}`, { cause: e });
    }

    const files: ChainFiles = new Map();
    for (const [n, b] of held) if (/^\d+\.root\.json$/.test(n)) files.set(n, b);
    files.set(`${anchorVersion}.root.json`, opts.anchorRoot);
    for (const [n, b] of fetchedRoots) files.set(n, b);
    const root = await Deno.readFile(join(staging, "root.json"));
    const facts = rootFacts(root);
    files.set(`${facts.version}.root.json`, root);
    // Versions at or below the anchor are never needed again; keep the chain short.
    for (const n of [...files.keys()]) {
      const v = Number(n.split(".")[0]);
      if (v < Math.min(anchorVersion, facts.version)) files.delete(n);
    }
    const expiries = [facts.expires];
    let timestamp = { version: 0, expires: "" };
    for (const role of ["timestamp", "snapshot", "targets"]) {
      const b = await Deno.readFile(join(staging, `${role}.json`));
      files.set(`${role}.json`, b);
      const s = signedOf(b);
      expiries.push(s.expires);
      if (role === "timestamp") timestamp = s;
    }
    files.set(TRUSTED_ROOT_TARGET, target);
    const changed = ["timestamp.json", "snapshot.json", "targets.json", TRUSTED_ROOT_TARGET]
      .some((n) => !sameBytes(files.get(n), held.get(n))) ||
      !sameBytes(root, heldRoot);
    return {
      files,
      rootVersion: facts.version,
      rootExpires: facts.expires,
      timestampVersion: timestamp.version,
      timestampExpires: timestamp.expires,
      expires: expiries.sort((a, b) => Date.parse(a) - Date.parse(b))[0],
      trustedRoot: target,
      changed,
    };
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}
