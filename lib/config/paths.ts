/**
 * Where this tool keeps its data and where registry credentials live, as
 * `../shared/cli.md` defines them.
 *
 * @module
 */

import { join } from "node:path";

function env(name: string): string | undefined {
  try {
    const v = Deno.env.get(name);
    return v === undefined || v === "" ? undefined : v;
  } catch {
    // No --allow-env for that variable: behave as if it were unset.
    return undefined;
  }
}

/** The user's home directory, or undefined when it cannot be told. */
export function homeDir(): string | undefined {
  return env("HOME") ?? env("USERPROFILE");
}

/**
 * The data directory: `--data-dir`, else `$DANGERZONE_IMAGE_DATA_DIR`, else
 * `$XDG_DATA_HOME/dangerzone`, else `~/.local/share/dangerzone`.
 */
export function defaultDataDir(): string {
  const explicit = env("DANGERZONE_IMAGE_DATA_DIR");
  if (explicit) return explicit;
  const xdg = env("XDG_DATA_HOME");
  if (xdg) return join(xdg, "dangerzone");
  const home = homeDir();
  if (home) return join(home, ".local", "share", "dangerzone");
  return join(".", ".dangerzone");
}

/**
 * The registry auth file: `$REGISTRY_AUTH_FILE`, else
 * `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
 */
export function authFilePath(): string {
  const explicit = env("REGISTRY_AUTH_FILE");
  if (explicit) return explicit;
  const dockerConfig = env("DOCKER_CONFIG");
  if (dockerConfig) return join(dockerConfig, "config.json");
  return join(homeDir() ?? ".", ".docker", "config.json");
}

/**
 * Other auth files read (never written) for credentials, in order after
 * {@linkcode authFilePath}: podman's `${XDG_RUNTIME_DIR}/containers/auth.json`
 * and `~/.config/containers/auth.json`.
 */
export function extraAuthFilePaths(): string[] {
  const out: string[] = [];
  const runtime = env("XDG_RUNTIME_DIR");
  if (runtime) out.push(join(runtime, "containers", "auth.json"));
  const home = homeDir();
  if (home) out.push(join(home, ".config", "containers", "auth.json"));
  return out;
}

/** Read an environment variable, treating a missing permission as unset. */
export const readEnv = env;
