/**
 * Stream an OCI image layout directory as an `oci-archive` tar (what
 * `podman load` and `docker load` (Docker 25+) read on stdin): `oci-layout`,
 * `index.json`, then every blob the index reaches, each read from disk as
 * a stream (never buffered whole).
 *
 * @module
 */

import { createTarPacker } from "modern-tar";
import { join } from "node:path";
import type { OciLayout } from "../oci/layout.ts";

/** A tar stream of `layout` holding `index.json` and the given blobs. */
export function layoutTarStream(
  layout: OciLayout,
  blobs: readonly { digest: string; size: number }[],
): ReadableStream<Uint8Array> {
  const { readable, controller } = createTarPacker();
  const mtime = new Date(0);
  const addFile = async (name: string, size: number, body: ReadableStream<Uint8Array>) => {
    const sink = controller.add({ name, size, type: "file", mode: 0o644, mtime });
    await body.pipeTo(sink);
  };
  (async () => {
    for (const meta of ["oci-layout", "index.json"]) {
      const bytes = await Deno.readFile(join(layout.dir, meta));
      await addFile(meta, bytes.byteLength, new Blob([bytes as BlobPart]).stream());
    }
    const seen = new Set<string>();
    for (const b of blobs) {
      if (seen.has(b.digest)) continue;
      seen.add(b.digest);
      await addFile(
        `blobs/sha256/${b.digest.slice("sha256:".length)}`,
        b.size,
        await layout.readBlob(b),
      );
    }
    controller.finalize();
  })().catch((e) => controller.error(e));
  return readable;
}
