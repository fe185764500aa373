/**
 * Stream one verified image as a docker-archive (what `docker load` of
 * every Docker Engine reads, 20.10 included: the config `<hex>.json`, one
 * file per layer, and `manifest.json` naming the config, the layers and
 * the image's tags), straight from its {@linkcode ImageSource}: no copy on
 * disk, every blob hashed while it flows. A blob that does not hash to its
 * digest errors the stream before `manifest.json` is written, so the
 * engine never gets an archive it could load: it is written last.
 * Layers keep their compression (docker load inflates gzip layers itself
 * and checks each one against the config's `rootfs.diff_ids`).
 *
 * @module
 */

import type { Progress } from "../progress/progress.ts";
import { silentProgress } from "../progress/progress.ts";
import type { ImageSource } from "../image/source.ts";
import type { Descriptor, ImageManifest } from "../oci/media_types.ts";
import { digestHex, isVerifyingStream, verifyingStream } from "../digest/digest.ts";
import { type TarPart, tarStream } from "../tar/tar_stream.ts";

const MTIME = new Date(0);

/** Member name of a blob in the archive. */
function memberName(d: Descriptor, isConfig: boolean): string {
  return `${digestHex(d.digest)}${isConfig ? ".json" : ".tar"}`;
}

/**
 * The docker-archive of `manifest` (already verified: it hashes to its
 * digest) tagged with `names`, as a byte stream.
 */
export function dockerArchiveStream(
  source: ImageSource,
  manifest: ImageManifest,
  names: readonly string[],
  progress: Progress = silentProgress,
  signal?: AbortSignal,
): ReadableStream<Uint8Array> {
  const blobs: { d: Descriptor; isConfig: boolean }[] = [{ d: manifest.config, isConfig: true }];
  const seen = new Set([manifest.config.digest]);
  for (const l of manifest.layers) {
    if (seen.has(l.digest)) continue;
    seen.add(l.digest);
    blobs.push({ d: l, isConfig: false });
  }
  const description = JSON.stringify([{
    Config: memberName(manifest.config, true),
    RepoTags: [...names],
    Layers: manifest.layers.map((l) => memberName(l, false)),
  }]);
  function* parts(): Generator<TarPart> {
    for (const { d, isConfig } of blobs) {
      const transfer = progress.start(`load ${d.digest.slice(7, 19)} into docker`, d.size);
      yield {
        kind: "stream",
        name: memberName(d, isConfig),
        size: d.size,
        mtime: MTIME,
        async open() {
          const stream = await source.blob(d, transfer);
          return isVerifyingStream(stream, d)
            ? stream
            : verifyingStream(stream, { ...d, what: `blob ${d.digest}` });
        },
        onDone: () => transfer.done(true),
      };
    }
    // Last: without it the engine loads nothing from the members before.
    yield {
      kind: "bytes",
      name: "manifest.json",
      bytes: new TextEncoder().encode(description),
      mtime: MTIME,
    };
  }
  return tarStream(parts(), signal);
}
