/**
 * The embedded runtime `oci:DIR`: an OCI image layout used as an image
 * store. Blobs are content-addressed and shared between images; each
 * installed image is an `index.json` entry whose
 * `org.opencontainers.image.ref.name` is the full image name (e.g.
 * `ghcr.io/a/b:latest`), so `skopeo inspect oci:DIR:ghcr.io/a/b:latest`
 * and `podman pull oci:DIR:…` read it. Every write is atomic; `index.json`
 * changes only after every blob is in place, under a lock. Nothing stored
 * is trusted without being read again: `inspect` re-hashes every blob of
 * the image, and an install re-hashes the blobs it reuses.
 *
 * @module
 */

import { join } from "node:path";
import type { Progress } from "../progress/progress.ts";
import type { Manifest } from "../registry/client.ts";
import type { ImageSource } from "../image/source.ts";
import { CONTAINERD_NAME, LayoutError, OciLayout, REF_NAME } from "../oci/layout.ts";
import { DigestMismatchError, RuntimeError } from "../errors/errors.ts";
import type { ContainerRuntime, ContentCheck, InstalledImage, RemovedImage } from "./runtime.ts";
import { repositoryOf } from "../signatures/signed_identity.ts";
import type { ImageManifest } from "../oci/media_types.ts";
import { stageImage } from "./stage.ts";
import { parseImageManifest } from "../oci/manifest.ts";
import { withLock } from "../store/lock.ts";
import { writeFileAtomic } from "../fs/atomic.ts";

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
    // Every blob was hashed while staged (or re-hashed when already present).
    const got = await this.#entry(names[0]);
    if (!got || got.imageId !== staged.manifest.config.digest) {
      throw new RuntimeError(
        `${this.name} holds ${got?.imageId ?? "nothing"} under ${
          names[0]
        } after installing ${staged.manifest.config.digest}`,
      );
    }
    return { name: got.name, imageId: got.imageId, manifestDigest: got.manifestDigest };
  }

  /** Nothing to start: the store is a directory. */
  check(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * What the store holds under `name`, every blob of it re-hashed (a blob
   * overwritten in place is found here, so an update reinstalls it).
   * @throws DigestMismatchError naming the first blob that does not hash to its digest
   */
  async inspect(name: string): Promise<InstalledImage | undefined> {
    const got = await this.#entry(name);
    if (!got) return undefined;
    await this.#rehash(got.manifest);
    const created = await this.#created(got.manifest);
    return {
      name: got.name,
      imageId: got.imageId,
      manifestDigest: got.manifestDigest,
      ...(created !== undefined ? { created } : {}),
    };
  }

  /** The config's `created` (the config was just re-hashed), ms since the epoch. */
  async #created(manifest: ImageManifest): Promise<number | undefined> {
    if (manifest.config.size > 4 * 1024 * 1024) return undefined;
    try {
      const layout = await OciLayout.open(this.dir);
      const doc = JSON.parse(new TextDecoder().decode(await layout.readBlobBytes(manifest.config)));
      const ms = typeof doc?.created === "string" ? Date.parse(doc.created) : NaN;
      return Number.isNaN(ms) ? undefined : ms;
    } catch {
      return undefined;
    }
  }

  async #rehash(manifest: ImageManifest, progress?: Progress): Promise<ContentCheck> {
    const layout = await OciLayout.open(this.dir);
    let bytes = 0;
    const seen = new Set<string>();
    const todo = [manifest.config, ...manifest.layers].filter((b) =>
      !seen.has(b.digest) && seen.add(b.digest)
    );
    // Two blobs at a time, each hashed by a worker: both cores busy. The first failure is reported.
    let next = 0;
    let failure: { error: unknown } | undefined;
    const lane = async () => {
      while (!failure && next < todo.length) {
        const blob = todo[next++];
        const transfer = progress?.start(`verify ${blob.digest.slice(7, 19)}`, blob.size);
        try {
          await layout.rehashBlob(blob, (n) => transfer?.advance(n));
        } catch (e) {
          transfer?.done(false);
          failure ??= {
            error: e instanceof LayoutError
              ? new DigestMismatchError(`${this.name} lacks blob ${blob.digest}`, { cause: e })
              : e,
          };
          return;
        }
        transfer?.done(true);
        bytes += blob.size;
      }
    };
    await Promise.all([lane(), lane()]);
    if (failure) throw failure.error;
    return { layers: manifest.layers.length, bytes };
  }

  /** Re-hash every blob of the image under `name` (see {@linkcode ContainerRuntime.verifyContent}). */
  async verifyContent(
    name: string,
    manifest: ImageManifest,
    progress?: Progress,
  ): Promise<ContentCheck> {
    const got = await this.#entry(name);
    if (!got) throw new DigestMismatchError(`${this.name} holds no image named ${name}`);
    if (got.imageId !== manifest.config.digest) {
      throw new DigestMismatchError(
        `${this.name}'s ${name} is ${got.imageId}, not ${manifest.config.digest}`,
      );
    }
    return await this.#rehash(got.manifest, progress);
  }

  /**
   * Take the index entries of `repository` whose image is `imageId` out of
   * `index.json` (under the store lock); blobs are left in place (they may
   * be shared, and an interrupted removal must not break another image).
   */
  async removeImage(
    imageId: string,
    repository: string,
    keep: (name: string) => Promise<boolean> = () => Promise.resolve(false),
  ): Promise<RemovedImage> {
    let layout: OciLayout;
    try {
      layout = await OciLayout.open(this.dir);
    } catch {
      return { untagged: [], removed: false, keptFor: [] };
    }
    const wanted = repositoryOf(repository) ?? repository;
    return await withLock(join(this.dir, ".dangerzone-image.lock"), async () => {
      const untagged: string[] = [];
      const keptFor: string[] = [];
      for (const entry of (await layout.index()).manifests) {
        const name = entry.annotations?.[REF_NAME];
        if (!name) continue;
        let config: string | undefined;
        try {
          config = parseImageManifest(await layout.readBlobBytes(entry)).config.digest;
        } catch {
          continue; // not an image manifest of ours: leave it
        }
        if (config !== imageId) continue;
        if (repositoryOf(name) === wanted && !(await keep(name))) untagged.push(name);
        else keptFor.push(name);
      }
      if (untagged.length > 0) {
        const index = await layout.index();
        index.manifests = index.manifests.filter((d) =>
          !untagged.includes(d.annotations?.[REF_NAME] ?? "")
        );
        await writeFileAtomic(join(this.dir, "index.json"), JSON.stringify(index));
      }
      return { untagged, removed: untagged.length > 0 && keptFor.length === 0, keptFor };
    });
  }

  async #entry(
    name: string,
  ): Promise<(InstalledImage & { manifest: ImageManifest }) | undefined> {
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
    return {
      name,
      imageId: manifest.config.digest,
      manifestDigest: entry.digest,
      manifest,
    };
  }
}
