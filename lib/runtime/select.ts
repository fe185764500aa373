/**
 * Pick the runtime `--runtime` names: `podman`, `docker`, `oci:DIR`; by
 * default podman if it is on PATH, else docker, else the embedded store
 * `oci:<data-dir>/images`.
 *
 * @module
 */

import { join } from "node:path";
import { UsageError } from "../errors/errors.ts";
import type { ContainerRuntime } from "./runtime.ts";
import { CliRuntime, type CliRuntimeOptions } from "./cli_runtime.ts";
import { OciStoreRuntime } from "./oci_store.ts";
import { onPath } from "./exec.ts";

/** The variables a container runtime's CLI reads that commands pass on (cli.md "Environment"). */
export const RUNTIME_ENV = ["CONTAINERS_STORAGE_CONF", "DOCKER_HOST"] as const;

/**
 * The {@linkcode RUNTIME_ENV} variables `readEnv` has, for
 * {@linkcode SelectOptions.env}: a command passes its environment to the
 * runtime it starts per command, never through process-wide state.
 */
export function runtimeEnv(
  readEnv: (name: string) => string | undefined,
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const name of RUNTIME_ENV) {
    const v = readEnv(name);
    if (v !== undefined) out[name] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/** Options of {@linkcode selectRuntime}. */
export interface SelectOptions extends Omit<CliRuntimeOptions, "binary"> {
  /** PATH lookup (tests replace it). */
  isOnPath?: (bin: string) => boolean;
}

/** The runtime for `spec` (`--runtime`), or the default one. */
export function selectRuntime(
  spec: string | undefined,
  dataDir: string,
  options: SelectOptions = {},
): ContainerRuntime {
  const cli: CliRuntimeOptions = {
    extraArgs: options.extraArgs,
    stagingDir: options.stagingDir ?? join(dataDir, "tmp"),
    ...(options.env ? { env: options.env } : {}),
  };
  if (spec === undefined || spec === "") {
    const has = options.isOnPath ?? onPath;
    if (has("podman")) return new CliRuntime("podman", cli);
    if (has("docker")) return new CliRuntime("docker", cli);
    return new OciStoreRuntime(join(dataDir, "images"));
  }
  if (spec === "podman" || spec === "docker") return new CliRuntime(spec, cli);
  if (spec.startsWith("oci:")) {
    const dir = spec.slice(4);
    if (dir === "") throw new UsageError("--runtime oci: needs a directory, e.g. oci:/var/lib/dz");
    return new OciStoreRuntime(dir);
  }
  throw new UsageError(`--runtime must be podman, docker or oci:DIR, not '${spec}'`);
}
