/**
 * Build a small single-layer OCI image in memory from a set of files: used
 * by the demo and the tests to make sample images (no container runtime
 * needed). Not for large content: layers are built in memory.
 *
 * @module
 */

import { packTar } from "../../lib/npm/modern_tar.ts";
import { sha256Digest } from "../../lib/digest/digest.ts";
import { type Descriptor, OCI_MANIFEST } from "../../lib/oci/media_types.ts";

/** Input of {@linkcode buildImage}. */
export interface BuildInput {
  /** Path in the image → content. */
  files: Record<string, string | Uint8Array>;
  os?: string;
  architecture?: string;
  /** Fixed creation time (default 2024-01-01T00:00:00Z, for reproducible digests). */
  created?: string;
  labels?: Record<string, string>;
  /** Command the image runs. */
  cmd?: string[];
}

/** A built image: every blob's bytes and the manifest. */
export interface BuiltImage {
  manifest: Uint8Array;
  manifestDescriptor: Descriptor;
  config: Uint8Array;
  configDescriptor: Descriptor;
  layers: { bytes: Uint8Array; descriptor: Descriptor; diffId: string }[];
}

async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Build a one-layer image (gzip layer, OCI manifest). Deterministic for equal input. */
export async function buildImage(input: BuildInput): Promise<BuiltImage> {
  const created = input.created ?? "2024-01-01T00:00:00Z";
  const mtime = new Date(created);
  const tar = await packTar(
    Object.entries(input.files).sort(([a], [b]) => a.localeCompare(b)).map(([name, content]) => {
      const data = typeof content === "string" ? new TextEncoder().encode(content) : content;
      return { header: { name, size: data.byteLength, mode: 0o644, mtime }, body: data };
    }),
  );
  const diffId = sha256Digest(tar);
  const layerBytes = await gzip(tar);
  const layer: Descriptor = {
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    digest: sha256Digest(layerBytes),
    size: layerBytes.byteLength,
  };
  const config = new TextEncoder().encode(JSON.stringify({
    created,
    architecture: input.architecture ?? "amd64",
    os: input.os ?? "linux",
    config: { Cmd: input.cmd ?? ["/bin/sh"], Labels: input.labels ?? {} },
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ created, created_by: "dangerzone-image buildImage" }],
  }));
  const configDescriptor: Descriptor = {
    mediaType: "application/vnd.oci.image.config.v1+json",
    digest: sha256Digest(config),
    size: config.byteLength,
  };
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: configDescriptor,
    layers: [layer],
  }));
  return {
    manifest,
    manifestDescriptor: {
      mediaType: OCI_MANIFEST,
      digest: sha256Digest(manifest),
      size: manifest.byteLength,
    },
    config,
    configDescriptor,
    layers: [{ bytes: layerBytes, descriptor: layer, diffId }],
  };
}
