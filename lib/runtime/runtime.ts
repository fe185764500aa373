/**
 * The container runtime interface: where verified images are installed
 * (podman, docker, or an embedded OCI image layout store). Implementations
 * live beside this file; `selectRuntime` picks one from `--runtime`.
 *
 * @module
 */

import type { Progress } from "../progress/progress.ts";
import type { Manifest } from "../registry/client.ts";
import type { ImageManifest } from "../oci/media_types.ts";
import type { ImageSource } from "../image/source.ts";

/** An image as a runtime holds it. */
export interface InstalledImage {
  /** The name asked for, e.g. `ghcr.io/a/b:latest`. */
  name: string;
  /** The image ID: `sha256:` digest of the image config. */
  imageId: string;
  /** Manifest digest, when the runtime keeps it. */
  manifestDigest?: string;
  /**
   * The digest the runtime itself reports for the image (`podman images
   * IMAGE --format {{.Digest}}`, what Dangerzone looks signatures up by):
   * the signed index's digest when the image was installed from one.
   */
  reportedDigest?: string;
  /**
   * The image's build time (its config's `created`, ms since the epoch) as
   * the runtime reports it, when it does (podman, docker).
   */
  created?: number;
}

/** Options of {@linkcode ContainerRuntime.install}. */
export interface InstallOptions {
  /**
   * The signed index the manifest was picked from (its bytes are hashed
   * again here). podman installs through it, so the digest podman reports
   * for the image is the signed index's, as after `podman pull IMAGE@INDEX`.
   */
  index?: Manifest;
}

/** What a content check re-read. */
export interface ContentCheck {
  /** Layers whose content was re-hashed and matched. */
  layers: number;
  /** Bytes re-read. */
  bytes: number;
}

/** What {@linkcode ContainerRuntime.removeImage} did. */
export interface RemovedImage {
  /** Names of the repository taken off the image. */
  untagged: string[];
  /** The image itself was removed (no other name, no container, used it). */
  removed: boolean;
  /** Names outside the repository that keep the image (it is then left in place). */
  keptFor: string[];
}

/** A place verified images are installed into. */
export interface ContainerRuntime {
  /** `podman`, `docker` or `oci:DIR`. */
  readonly name: string;
  /**
   * Does the runtime answer (podman installed and its storage readable,
   * the Docker daemon reachable)? Called before anything is downloaded.
   * @throws RuntimeError (exit 3), one line naming the runtime and how to start or install it
   */
  check(): Promise<void>;
  /**
   * Install the single-platform image `manifest` whose blobs come from
   * `source` (every blob is checked against its digest and size while it is
   * read; a mismatch aborts with nothing installed), under each of `names`,
   * and under no other name. Reads back what the runtime stored and checks
   * its image ID equals the manifest's config digest before returning.
   */
  install(
    source: ImageSource,
    manifest: Manifest,
    names: string[],
    progress?: Progress,
    options?: InstallOptions,
  ): Promise<InstalledImage>;
  /** What the runtime holds under `name`, or undefined. */
  inspect(name: string): Promise<InstalledImage | undefined>;
  /**
   * Re-read the content the runtime holds under `name` and check it against
   * `manifest` (already verified: its config digest is the image ID): the
   * config must hash to the manifest's config digest and every layer to
   * the config's `rootfs.diff_ids` (podman / docker: the image is
   * re-exported with `save`; `oci:`: every blob is re-hashed).
   * @throws VerificationError (exit 1) naming the first blob or layer that differs
   */
  verifyContent(name: string, manifest: ImageManifest, progress?: Progress): Promise<ContentCheck>;
  /**
   * Remove an older image after an update (as Dangerzone does): take off
   * image `imageId` every name it has in `repository` (`registry/path`, any
   * tag) except those `keep` says to keep, then remove the image if no
   * other name uses it. Never forced: an image a container uses, or one
   * still named, stays.
   * @throws RuntimeError when the runtime refuses (the caller warns, the update stands)
   */
  removeImage(
    imageId: string,
    repository: string,
    keep?: (name: string) => Promise<boolean>,
  ): Promise<RemovedImage>;
}
