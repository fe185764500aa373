/**
 * The container runtime interface: where verified images are installed
 * (podman, docker, or an embedded OCI image layout store). Implementations
 * live beside this file; `selectRuntime` picks one from `--runtime`.
 *
 * @module
 */

import type { Progress } from "../cli/progress.ts";
import type { Manifest } from "../registry/client.ts";
import type { ImageSource } from "../image/source.ts";

/** An image as a runtime holds it. */
export interface InstalledImage {
  /** The name asked for, e.g. `ghcr.io/a/b:latest`. */
  name: string;
  /** The image ID: `sha256:` digest of the image config. */
  imageId: string;
  /** Manifest digest, when the runtime keeps it. */
  manifestDigest?: string;
}

/** A place verified images are installed into. */
export interface ContainerRuntime {
  /** `podman`, `docker` or `oci:DIR`. */
  readonly name: string;
  /**
   * Install the single-platform image `manifest` whose blobs come from
   * `source` (every blob is checked against its digest and size while it is
   * read; a mismatch aborts with nothing installed), under each of `names`.
   * Reads back what the runtime stored and checks its image ID equals the
   * manifest's config digest before returning.
   */
  install(
    source: ImageSource,
    manifest: Manifest,
    names: string[],
    progress?: Progress,
  ): Promise<InstalledImage>;
  /** What the runtime holds under `name`, or undefined. */
  inspect(name: string): Promise<InstalledImage | undefined>;
}
