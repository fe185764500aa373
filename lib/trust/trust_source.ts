/**
 * Which Sigstore trusted root a command uses, and why:
 *
 * 1. `--trusted-root FILE`: always, nothing else is consulted;
 * 2. else the `trusted_root.json` of the TUF chain cached in the data dir,
 *    refreshed from the TUF repository first when asked (`refresh:
 *    "if-expired"` refreshes only when the cached metadata has expired, or
 *    there is none) — a refresh that fails is one warning line, never a
 *    failure;
 * 3. else the `trusted_root.json` shipped with the anchor (embedded).
 *
 * A chain carried in an archive is adopted only when it verifies from the
 * anchor and the chain already held ({@linkcode adoptCarriedChain}); it
 * then becomes the cache. Nothing from the network or an archive is ever
 * used except through a TUF chain verified from the local anchor.
 *
 * @module
 */

import type { Fetcher } from "../npm/tuf_js.ts";
import { DzError } from "../errors/errors.ts";
import {
  type LoadedTrustedRoot,
  loadTrustedRoot,
  parseTrustedRoot,
  publicGoodTrustedRoot,
} from "./trusted_root.ts";
import { rootFacts, type TufAnchor } from "./tuf_anchor.ts";
import { heldChain, readChainFiles, tufCacheDir, writeChainFiles } from "./tuf_cache.ts";
import { tufFailure, updateChain, type VerifiedChain } from "./tuf_chain.ts";
import type { ChainFiles } from "./tuf_files.ts";
import { filesTufFetcher } from "./tuf_fetch.ts";
import { isPermissionError } from "../fs/read_file.ts";

/** Where the trusted root in use came from. */
export type TrustOrigin = "file" | "tuf-cache" | "tuf-refresh" | "tuf-archive" | "embedded";

/** The trusted root in use, with what `trust status` reports. */
export interface TrustState {
  root: LoadedTrustedRoot;
  origin: TrustOrigin;
  /** The TUF repository (unless `--trusted-root`). */
  repository?: string;
  /** The anchor's source and root version. */
  anchor?: { source: string; version: number };
  /** The verified TUF chain behind {@linkcode root} (origins `tuf-*`). */
  tuf?: {
    rootVersion: number;
    rootExpires: string;
    timestampVersion: number;
    timestampExpires: string;
    /** Earliest expiry of the chain: after it, `upgrade` refreshes. */
    expires: string;
    expired: boolean;
    cacheDir: string;
  };
  /** The warning printed, if any (a refresh or a carried chain refused). */
  warning?: string;
}

/** What {@linkcode resolveTrust} needs. */
export interface TrustOptions {
  dataDir: string;
  /** `--trusted-root FILE`. */
  trustedRootPath?: string;
  anchor: TufAnchor;
  /** `never` (offline: cache or embedded), `if-expired` (upgrade), `always`. */
  refresh: "never" | "if-expired" | "always";
  /** Makes the network fetcher (only called when a refresh happens). */
  fetcher?: () => Fetcher & { close?(): void };
  /** One-line warnings (stderr). */
  warn?: (line: string) => void;
  /** The clock for "expired" (tuf-js itself reads the system clock). */
  now?: () => Date;
}

function stateFromChain(
  chain: Pick<
    VerifiedChain,
    | "rootVersion"
    | "rootExpires"
    | "timestampVersion"
    | "timestampExpires"
    | "expires"
    | "trustedRoot"
  >,
  origin: TrustOrigin,
  opts: { anchor: TufAnchor; cacheDir: string; now: Date },
): TrustState {
  const root = parseTrustedRoot(
    JSON.parse(new TextDecoder().decode(chain.trustedRoot)),
    `tuf:${opts.anchor.url} (root v${chain.rootVersion})`,
  );
  return {
    root,
    origin,
    repository: opts.anchor.url,
    anchor: { source: opts.anchor.source, version: rootFacts(opts.anchor.root).version },
    tuf: {
      rootVersion: chain.rootVersion,
      rootExpires: chain.rootExpires,
      timestampVersion: chain.timestampVersion,
      timestampExpires: chain.timestampExpires,
      expires: chain.expires,
      expired: Date.parse(chain.expires) <= opts.now.getTime(),
      cacheDir: opts.cacheDir,
    },
  };
}

function embedded(anchor: TufAnchor): TrustState {
  const root = anchor.trustedRoot
    ? parseTrustedRoot(
      JSON.parse(new TextDecoder().decode(anchor.trustedRoot)),
      `${anchor.source} (trusted_root.json)`,
    )
    : publicGoodTrustedRoot();
  return {
    root,
    origin: "embedded",
    repository: anchor.url,
    anchor: { source: anchor.source, version: rootFacts(anchor.root).version },
  };
}

/** The cached chain, if usable with this anchor (not older than it). */
async function cached(
  anchor: TufAnchor,
  cacheDir: string,
  warn: (line: string) => void,
) {
  const files = await readChainFiles(cacheDir);
  const held = await heldChain(files, (why) => warn(`warning: ${why}; not using it`));
  if (held && held.rootVersion < rootFacts(anchor.root).version) return { files, held: undefined };
  return { files, held };
}

/** Resolve the trusted root; see the module doc. Never fails for want of a network. */
export async function resolveTrust(opts: TrustOptions): Promise<TrustState> {
  if (opts.trustedRootPath !== undefined) {
    return { root: await loadTrustedRoot(opts.trustedRootPath), origin: "file" };
  }
  const now = (opts.now ?? (() => new Date()))();
  const warn = opts.warn ?? (() => {});
  const cacheDir = tufCacheDir(opts.dataDir, opts.anchor.url);
  const { files, held } = await cached(opts.anchor, cacheDir, warn);
  const expired = !held || Date.parse(held.expires) <= now.getTime();
  let warning: string | undefined;
  if (opts.refresh === "always" || (opts.refresh === "if-expired" && expired)) {
    const fetcher = opts.fetcher?.();
    try {
      if (!fetcher) throw new Error("no network fetcher configured");
      const chain = await updateChain({
        url: opts.anchor.url,
        anchorRoot: opts.anchor.root,
        held: held ? files : undefined,
        fetcher,
        workDir: cacheDir,
      });
      const state = stateFromChain(chain, "tuf-refresh", { anchor: opts.anchor, cacheDir, now });
      if (chain.changed) await writeChainFiles(cacheDir, chain.files);
      return state;
    } catch (e) {
      if (isPermissionError(e)) throw e;
      const using = held
        ? `the cached root (TUF root v${held.rootVersion}${expired ? ", expired" : ""})`
        : "the embedded root";
      warning = `warning: cannot refresh the Sigstore trusted root from ${opts.anchor.url} (${
        e instanceof DzError ? e.message : tufFailure(e)
      }); using ${using}`;
      warn(warning);
    } finally {
      fetcher?.close?.();
    }
  }
  const state = held
    ? stateFromChain(held, "tuf-cache", { anchor: opts.anchor, cacheDir, now })
    : embedded(opts.anchor);
  return warning ? { ...state, warning } : state;
}

/** What {@linkcode adoptCarriedChain} needs. */
export interface AdoptOptions {
  dataDir: string;
  anchor: TufAnchor;
  /** The chain the archive carries (chain file names). */
  files: ReadonlyMap<string, Uint8Array>;
  warn?: (line: string) => void;
  now?: () => Date;
}

/**
 * Verify a chain carried in an archive from the anchor and the chain held
 * here (so an older, expired, forged or unsigned chain is refused), and
 * keep it as the cache when it is newer. Returns the state to verify with,
 * or `undefined` (after one warning) when the chain is refused: the caller
 * goes on with the root it already holds.
 */
export async function adoptCarriedChain(opts: AdoptOptions): Promise<TrustState | undefined> {
  const warn = opts.warn ?? (() => {});
  const now = (opts.now ?? (() => new Date()))();
  const cacheDir = tufCacheDir(opts.dataDir, opts.anchor.url);
  const { files, held } = await cached(opts.anchor, cacheDir, warn);
  try {
    const chain = await updateChain({
      url: opts.anchor.url,
      anchorRoot: opts.anchor.root,
      held: held ? files : undefined,
      fetcher: filesTufFetcher(opts.files as ChainFiles),
      workDir: cacheDir,
    });
    const state = stateFromChain(chain, "tuf-archive", { anchor: opts.anchor, cacheDir, now });
    if (chain.changed) await writeChainFiles(cacheDir, chain.files);
    return state;
  } catch (e) {
    if (isPermissionError(e)) throw e;
    warn(
      `warning: the archive's Sigstore trusted root is refused (${
        e instanceof DzError ? e.message : tufFailure(e)
      }); verifying with the root this machine holds`,
    );
    return undefined;
  }
}

/** The chain files to carry in an archive for `state` (its cache), or none. */
export async function chainToCarry(state: TrustState): Promise<ChainFiles | undefined> {
  if (!state.tuf || state.origin === "file" || state.origin === "embedded") return undefined;
  const files = await readChainFiles(state.tuf.cacheDir);
  return (await heldChain(files)) ? files : undefined;
}
