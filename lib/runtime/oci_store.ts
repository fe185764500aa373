/**
 * The embedded runtime `oci:DIR`: an OCI image layout used as an image
 * store. Blobs are content-addressed and shared between images; each
 * installed image is an `index.json` entry whose
 * `org.opencontainers.image.ref.name` is the full image name (e.g.
 * `ghcr.io/a/b:latest`), so `skopeo inspect oci:DIR:ghcr.io/a/b:latest`
 * and `podman pull oci:DIR:…` read it. Every write is atomic; `index.json`
 * changes only after every blob is in place, under a lock.
 *
 * @module
 */

import { join } from "node:path";
import type { Progress } from "../cli/progress.ts";
import type { Manifest } from "../registry/client.ts";
import type { ImageSource } from "../image/source.ts";
import { CONTAINERD_NAME, OciLayout, REF_NAME } from "../oci/layout.ts";
import { RuntimeError } from "../cli/errors.ts";
import type { ContainerRuntime, InstalledImage } from "./runtime.ts";
import { stageImage } from "./stage.ts";
import { parseImageManifest } from "./image_manifest.ts";
import { withLock } from "../update/lock.ts";

/** An OCI image layout directory used as the image store. */
export class OciStoreRuntime implements ContainerRuntime {
  readonly name: string;
  constructor(readonly dir: string) {
    this.name = `oci:${dir}`;
  }

  async install(
    source: ImageSource,
    manifest: Manifest,
    names: string[],
    progress?: Progress,
  ): Promise<InstalledImage> {
    await Deno.mkdir(this.dir, { recursive: true });
    const layout = await OciLayout.openOrCreate(this.dir);
    // One install at a time per store: a failed one removes only the blobs it added.
    const staged = await withLock(join(this.dir, ".dangerzone-image.lock"), async () => {
      const staged = await stageImage(source, manifest, layout, progress);
      for (const name of names) {
        await layout.setRef(name, staged.descriptor, { [CONTAINERD_NAME]: name });
      }
      return staged;
    });
    const got = await this.inspect(names[0]);
    if (!got || got.imageId !== staged.manifest.config.digest) {
      throw new RuntimeError(
        `${this.name} holds ${got?.imageId ?? "nothing"} under ${
          names[0]
        } after installing ${staged.manifest.config.digest}`,
      );
    }
    return got;
  }

  async inspect(name: string): Promise<InstalledImage | undefined> {
    let layout: OciLayout;
    try {
      layout = await OciLayout.open(this.dir);
    } catch {
      return undefined;
    }
    const entry = (await layout.index()).manifests.find((m) => m.annotations?.[REF_NAME] === name);
    if (!entry) return undefined;
    const bytes = await layout.readBlobBytes(entry);
    const manifest = parseImageManifest(bytes, `${this.name} manifest ${entry.digest}`);
    return { name, imageId: manifest.config.digest, manifestDigest: entry.digest };
  }
}
