/**
 * Build a {@linkcode RegistryClient} from the global command-line options:
 * `--insecure-registry`, `--proxy`, credentials from the auth files, and
 * `--timeout` (the command's network budget) and `--debug` request logging
 * (never with secrets).
 *
 * @module
 */

import type { GlobalOptions } from "../cli/command.ts";
import { readEnv } from "../config/paths.ts";
import { RegistryClient } from "./client.ts";
import { authFileCredentials, authFileCredentialsFrom } from "./credentials.ts";

/** A client for `registry` configured by the global options. */
export function clientFor(registry: string, global: GlobalOptions): RegistryClient {
  const proxy = global.proxy ?? readEnv("HTTPS_PROXY") ?? readEnv("https_proxy") ??
    readEnv("ALL_PROXY") ?? readEnv("all_proxy");
  return new RegistryClient(registry, {
    insecureRegistries: global.insecureRegistries,
    proxy,
    credentials: global.authFile ? authFileCredentialsFrom(global.authFile) : authFileCredentials,
    budgetMs: global.timeoutSeconds === undefined ? undefined : global.timeoutSeconds * 1000,
    debug: global.debug ? (line) => console.error(`debug: ${line}`) : undefined,
  });
}
