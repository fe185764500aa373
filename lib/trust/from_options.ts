/**
 * The trusted root for a command, from its global options: `--trusted-root`,
 * else the TUF chain (anchor from `DANGERZONE_IMAGE_TUF_URL` /
 * `DANGERZONE_IMAGE_TUF_ROOT`, else the embedded public-good one), refreshed
 * through the run's proxy (`--proxy`, Tor on Tails, `HTTPS_PROXY` / `ALL_PROXY`)
 * like every other request.
 *
 * @module
 */

import type { GlobalOptions } from "../config/options.ts";
import { nonEmpty, readEnv } from "../config/paths.ts";
import { type LoadedTrustedRoot, loadTrustedRoot } from "./trusted_root.ts";
import { anchorFromEnv } from "./tuf_anchor.ts";
import { httpTufFetcher } from "./tuf_fetch.ts";
import {
  adoptCarriedChain,
  resolveTrust,
  type TrustOptions,
  type TrustState,
} from "./trust_source.ts";
import { type ClientEnvironment, proxyForUrl } from "../registry/from_options.ts";

/** The trusted root a command uses (see `trust_source.ts`); warnings go to `warn`. */
export async function trustFor(
  global: GlobalOptions,
  refresh: TrustOptions["refresh"],
  warn: (line: string) => void,
  environment: ClientEnvironment = {},
): Promise<TrustState> {
  const env = nonEmpty(global.env ?? readEnv);
  if (global.trustedRoot !== undefined) {
    return { root: await loadTrustedRoot(global.trustedRoot, env), origin: "file" };
  }
  const anchor = await anchorFromEnv(env);
  const proxy = proxyForUrl(global, anchor.url, environment);
  return await resolveTrust({
    dataDir: global.dataDir,
    anchor,
    refresh,
    warn,
    fetcher: () =>
      httpTufFetcher(anchor.url, {
        proxy,
        debug: global.debug ? (line) => console.error(`debug: ${line}`) : undefined,
      }),
  });
}

/**
 * For `load-archive`: adopt the chain an archive carries (verified from
 * this machine's anchor and cache), or `undefined` with `--trusted-root`
 * (which overrides everything).
 */
export function carriedTrustFor(
  global: GlobalOptions,
  warn: (line: string) => void,
):
  | ((files: ReadonlyMap<string, Uint8Array>) => Promise<LoadedTrustedRoot | undefined>)
  | undefined {
  if (global.trustedRoot !== undefined) return undefined;
  return async (files) => {
    const anchor = await anchorFromEnv(nonEmpty(global.env ?? readEnv));
    const state = await adoptCarriedChain({ dataDir: global.dataDir, anchor, files, warn });
    return state?.root;
  };
}
