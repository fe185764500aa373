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
