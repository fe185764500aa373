/**
 * Large, incompressible test images for the transfer benchmarks, never held
 * in memory: each layer is a valid uncompressed tar (so podman can apply
 * it) holding one file of pseudo-random bytes from a seeded AES-CTR key
 * stream (node:crypto; deterministic, so a layer is generated twice: once
 * to compute its digest and size, once to upload it), in 64 KiB chunks.
 *
 * @module
 */

import { createCipheriv, createHash } from "node:crypto";
import { createTarPacker } from "modern-tar";
import type { RegistryClient } from "../../lib/registry/client.ts";
import { sha256Digest } from "../../lib/digest/digest.ts";
import { OCI_MANIFEST } from "../../lib/oci/media_types.ts";

const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";

const CHUNK = 64 * 1024;
const ZEROS = new Uint8Array(CHUNK);

/** `size` pseudo-random bytes derived from `seed`, as a pull stream. */
export function randomStream(seed: string, size: number): ReadableStream<Uint8Array> {
  const key = createHash("sha256").update(`key:${seed}`).digest();
  const iv = createHash("sha256").update(`iv:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-256-ctr", key, iv);
  let left = size;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left === 0) {
        controller.close();
        return;
      }
      const n = Math.min(CHUNK, left);
      left -= n;
      controller.enqueue(new Uint8Array(cipher.update(n === CHUNK ? ZEROS : ZEROS.subarray(0, n))));
    },
  }, { highWaterMark: 0 });
}

/** A tar holding `data/layer-<seed>.bin` with `contentSize` random bytes. */
export function layerStream(seed: string, contentSize: number): ReadableStream<Uint8Array> {
  const { readable, controller } = createTarPacker();
  (async () => {
    const sink = controller.add({
      name: `data/layer-${seed}.bin`,
      size: contentSize,
      type: "file",
      mode: 0o644,
      mtime: new Date(0),
    });
    await randomStream(seed, contentSize).pipeTo(sink);
    controller.finalize();
  })().catch((e) => controller.error(e));
  return readable;
}

/** Digest and size of a stream (one pass). */
export async function measureStream(
  stream: ReadableStream<Uint8Array>,
): Promise<{ digest: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

/** What {@linkcode pushBigImage} pushed. */
export interface BigImage {
  /** Manifest digest. */
  digest: string;
  /** Config digest (the image ID). */
  configDigest: string;
  /** Sum of the layer sizes, bytes. */
  layerBytes: number;
  /** Sum of all blob and manifest sizes, bytes. */
  totalBytes: number;
}

/**
 * Push a linux/amd64 image of `layers` uncompressed tar layers of about
 * `layerMiB` MiB each (content random, so incompressible) to `repo:tag`.
 */
export async function pushBigImage(
  client: RegistryClient,
  repo: string,
  tag: string,
  options: { layers?: number; layerMiB: number; seed?: string },
): Promise<BigImage> {
  const layers = options.layers ?? 4;
  // Leave room for the tar header and end blocks so each layer is ~layerMiB.
  const contentSize = Math.max(1, options.layerMiB * 1024 * 1024 - 10 * 1024);
  const descriptors: { mediaType: string; digest: string; size: number }[] = [];
  for (let i = 0; i < layers; i++) {
    const seed = `${options.seed ?? repo}-${i}`;
    const d = await measureStream(layerStream(seed, contentSize));
    await client.uploadBlob(repo, d, () => layerStream(seed, contentSize));
    descriptors.push({ mediaType: OCI_LAYER, ...d });
  }
  const config = new TextEncoder().encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    created: "2024-01-01T00:00:00Z",
    config: { Cmd: ["/bin/true"] },
    rootfs: { type: "layers", diff_ids: descriptors.map((d) => d.digest) },
    history: descriptors.map(() => ({ created: "2024-01-01T00:00:00Z", created_by: "bench" })),
  }));
  const configDesc = { mediaType: OCI_CONFIG, digest: sha256Digest(config), size: config.length };
  await client.uploadBlob(repo, configDesc, config);
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: configDesc,
    layers: descriptors,
  }));
  const digest = await client.putManifest(repo, tag, manifest, OCI_MANIFEST);
  const layerBytes = descriptors.reduce((a, d) => a + d.size, 0);
  return {
    digest,
    configDigest: configDesc.digest,
    layerBytes,
    totalBytes: layerBytes + config.length + manifest.length,
  };
}
