/**
 * Where this tool keeps its data and where registry credentials live, as
 * `../shared/cli.md` defines them.
 *
 * @module
 */

import { join, posix, win32 } from "node:path";

/**
 * This process's environment variable `name` as set (an empty value
 * included): the default of every `env` parameter that must tell an empty
 * value from a missing one (`COSIGN_PASSWORD=""` is an empty password).
 * No `--allow-env` for the variable reads as unset.
 */
export function readEnvExact(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    // No --allow-env for that variable: behave as if it were unset.
    return undefined;
  }
}

/** `reader` with empty values read as unset. */
export function nonEmpty(reader: EnvReader): EnvReader {
  return (name) => {
    const v = reader(name);
    return v === undefined || v === "" ? undefined : v;
  };
}

function env(name: string): string | undefined {
  const v = readEnvExact(name);
  return v === undefined || v === "" ? undefined : v;
}

/** The user's home directory, or undefined when it cannot be told. */
export function homeDir(readEnv: EnvReader = env): string | undefined {
  const get = nonEmpty(readEnv);
  return get("HOME") ?? get("USERPROFILE");
}

/** Reads one environment variable (undefined when unset or empty). */
export type EnvReader = (name: string) => string | undefined;

/**
 * The data directory when `--data-dir` is not given:
 * `$DANGERZONE_IMAGE_DATA_DIR`, else Dangerzone's own
 * (platformdirs `user_data_dir("dangerzone")`, so both tools share
 * signatures and rollback state):
 * - Linux and other Unix: `$XDG_DATA_HOME/dangerzone`, else `~/.local/share/dangerzone`;
 * - macOS: `~/Library/Application Support/dangerzone`;
 * - Windows: `%LOCALAPPDATA%\dangerzone\dangerzone` (platformdirs' app
 *   author defaults to the app name).
 *
 * `readEnv` and `os` default to this process's; tests pass their own.
 */
export function defaultDataDir(
  reader: EnvReader = env,
  os: typeof Deno.build.os = Deno.build.os,
): string {
  const readEnv = nonEmpty(reader);
  const explicit = readEnv("DANGERZONE_IMAGE_DATA_DIR");
  if (explicit) return explicit;
  if (os === "windows") {
    const local = readEnv("LOCALAPPDATA") ??
      (readEnv("USERPROFILE")
        ? win32.join(readEnv("USERPROFILE")!, "AppData", "Local")
        : undefined);
    return win32.join(local ?? ".", "dangerzone", "dangerzone");
  }
  const home = readEnv("HOME");
  if (os === "darwin") {
    return posix.join(home ?? ".", "Library", "Application Support", "dangerzone");
  }
  const xdg = readEnv("XDG_DATA_HOME")?.trim();
  if (xdg) return posix.join(xdg, "dangerzone");
  if (home) return posix.join(home, ".local", "share", "dangerzone");
  return posix.join(".", ".dangerzone");
}

/**
 * The registry auth file: `$REGISTRY_AUTH_FILE`, else
 * `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`
 * (`readEnv` defaults to this process's environment).
 */
export function authFilePath(reader: EnvReader = env): string {
  const readEnv = nonEmpty(reader);
  const explicit = readEnv("REGISTRY_AUTH_FILE");
  if (explicit) return explicit;
  const dockerConfig = readEnv("DOCKER_CONFIG");
  if (dockerConfig) return join(dockerConfig, "config.json");
  return join(homeDir(readEnv) ?? ".", ".docker", "config.json");
}

/**
 * Other auth files read (never written) for credentials, in order after
 * {@linkcode authFilePath}: podman's `${XDG_RUNTIME_DIR}/containers/auth.json`
 * and `~/.config/containers/auth.json`.
 */
export function extraAuthFilePaths(reader: EnvReader = env): string[] {
  const readEnv = nonEmpty(reader);
  const out: string[] = [];
  const runtime = readEnv("XDG_RUNTIME_DIR");
  if (runtime) out.push(join(runtime, "containers", "auth.json"));
  const home = homeDir(readEnv);
  if (home) out.push(join(home, ".config", "containers", "auth.json"));
  return out;
}

/** Read an environment variable, treating a missing permission as unset. */
export const readEnv = env;
