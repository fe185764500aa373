/**
 * Build a {@linkcode RegistryClient} from the global command-line options:
 * `--insecure-registry`, `--proxy`, credentials from the auth files, and
 * `--timeout` (the command's network budget) and `--debug` request logging
 * (never with secrets).
 *
 * The proxy: `--proxy` if given; else, on Tails, Tor's SOCKS port with a
 * random username per run (`tails.ts`; one line on stderr says so, once);
 * else `$HTTPS_PROXY` / `$ALL_PROXY`. Environment variables come from
 * `global.env` (default: this process's), the retry policy from `global.retry`.
 *
 * @module
 */

import type { GlobalOptions } from "../config/options.ts";
import { nonEmpty, readEnv } from "../config/paths.ts";
import { RegistryClient } from "./client.ts";
import { isLoopbackHost } from "./reference.ts";
import { authFileCredentialsFrom, authFileCredentialsIn } from "./credentials.ts";
import { isTails, randomTorUsername, readOsRelease, TOR_SOCKS_PORT, torProxyUrl } from "./tails.ts";

/** Where {@linkcode clientFor} learns about the machine (tests replace it). */
export interface ClientEnvironment {
  /** The content of `/etc/os-release` (default: read it). */
  osRelease?: () => string | undefined;
  /** Tor's SOCKS port (default 9050). */
  torPort?: number;
  /** Where the one-line Tails notice goes (default: stderr). */
  notice?: (line: string) => void;
}

/** This run's SOCKS username on Tails: one per process, so one set of Tor circuits per run. */
let runUsername: string | undefined;
let noticeShown = false;

/** The Tor proxy URL when the machine is Tails (saying so once per run), else undefined. */
function tailsProxy(environment: ClientEnvironment = {}): string | undefined {
  if (!isTails((environment.osRelease ?? readOsRelease)())) return undefined;
  runUsername ??= randomTorUsername();
  const port = environment.torPort ?? TOR_SOCKS_PORT;
  if (!noticeShown) {
    noticeShown = true;
    (environment.notice ?? ((l) => console.error(l)))(
      `Tails detected: every request goes through Tor (socks5h://127.0.0.1:${port}, isolated stream); --proxy overrides`,
    );
  }
  return torProxyUrl(runUsername, port);
}

/**
 * The proxy a request of this run to `destination` (`host[:port]`) goes
 * through (registry, TUF, Rekor): `--proxy`; else Tor's SOCKS port on
 * Tails; else `$HTTPS_PROXY` / `$ALL_PROXY` (from `global.env`), except for
 * a loopback destination (cli.md: never for loopback); else none.
 */
export function proxyFor(
  global: GlobalOptions,
  environment: ClientEnvironment = {},
  destination?: string,
): string | undefined {
  const explicit = global.proxy ?? tailsProxy(environment);
  if (explicit !== undefined) return explicit;
  if (destination !== undefined && isLoopbackHost(destination)) return undefined;
  const env = nonEmpty(global.env ?? readEnv);
  return env("HTTPS_PROXY") ?? env("https_proxy") ?? env("ALL_PROXY") ?? env("all_proxy");
}

/** {@linkcode proxyFor} a request to `url` (an unparsable URL counts as not loopback). */
export function proxyForUrl(
  global: GlobalOptions,
  url: string,
  environment: ClientEnvironment = {},
): string | undefined {
  return proxyFor(global, environment, URL.canParse(url) ? new URL(url).host : undefined);
}

/** A client for `registry` configured by the global options. */
export function clientFor(
  registry: string,
  global: GlobalOptions,
  environment: ClientEnvironment = {},
): RegistryClient {
  const env = nonEmpty(global.env ?? readEnv);
  const proxy = proxyFor(global, environment, registry);
  return new RegistryClient(registry, {
    insecureRegistries: global.insecureRegistries,
    proxy,
    credentials: global.authFile
      ? authFileCredentialsFrom(global.authFile)
      : authFileCredentialsIn(env),
    budgetMs: global.timeoutSeconds === undefined ? undefined : global.timeoutSeconds * 1000,
    debug: global.debug ? (line) => console.error(`debug: ${line}`) : undefined,
    ...(global.retry ? { retry: global.retry } : {}),
  });
}
