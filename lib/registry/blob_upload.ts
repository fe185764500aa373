/**
 * A blob upload (POST + PUT, POST + PATCH… + PUT, or a cross-repository
 * mount), for a blob the registry does not hold yet.
 *
 * @module
 */

import { DigestMismatchError, RegistryError } from "../errors/errors.ts";
import type { Transfer } from "../progress/progress.ts";
import type { Descriptor } from "../oci/media_types.ts";
import type { RegistryTransport } from "./transport.ts";

/** Options of {@linkcode RegistryClient.uploadBlob}. */
export interface UploadOptions {
  /** Try to mount the blob from this repository of the same registry first. */
  mountFrom?: string;
  /** Upload in PATCH chunks of this many bytes (default: one monolithic PUT). */
  chunkSize?: number;
  transfer?: Transfer;
}

function uploadUrl(transport: RegistryTransport, res: Response): string {
  const loc = res.headers.get("location");
  if (!loc) {
    throw new RegistryError(res.status, `${transport.registry}: upload session without Location`);
  }
  return new URL(loc, transport.origin).href;
}

function checkCreated(res: Response, digest: string): void {
  const header = res.headers.get("docker-content-digest");
  if (header && header !== digest) {
    throw new DigestMismatchError(`registry stored the blob as ${header}, expected ${digest}`);
  }
}

/**
 * Upload a blob the registry lacks: mount from `mountFrom` when given,
 * else POST + PUT (monolithic) or POST + PATCH… + PUT (chunked). The
 * registry verifies the digest; so does the final PUT's answer.
 */
export async function uploadNewBlob(
  transport: RegistryTransport,
  repository: string,
  descriptor: Pick<Descriptor, "digest" | "size">,
  content: Uint8Array | (() => ReadableStream<Uint8Array>),
  options: UploadOptions = {},
): Promise<"mounted" | "uploaded"> {
  const { digest, size } = descriptor;
  const scopes = [`repository:${repository}:pull,push`];
  let start: Response;
  if (options.mountFrom && options.mountFrom !== repository) {
    start = await transport.request({
      method: "POST",
      path: `/v2/${repository}/blobs/uploads/?mount=${digest}&from=${
        encodeURIComponent(options.mountFrom)
      }`,
      scopes: [...scopes, `repository:${options.mountFrom}:pull`],
      accept: [201, 202],
    });
    await start.body?.cancel();
    if (start.status === 201) return "mounted";
  } else {
    start = await transport.request({
      method: "POST",
      path: `/v2/${repository}/blobs/uploads/`,
      scopes,
      accept: [202],
    });
    await start.body?.cancel();
  }
  let url = uploadUrl(transport, start);
  const withDigest = (u: string) => {
    const x = new URL(u);
    x.searchParams.set("digest", digest);
    return x.href;
  };
  const stream = () => {
    const s = content instanceof Uint8Array ? new Blob([content as BlobPart]).stream() : content();
    return options.transfer
      ? s.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(c, ctl) {
            options.transfer!.advance(c.byteLength);
            ctl.enqueue(c);
          },
        }),
      )
      : s;
  };
  if (!options.chunkSize) {
    const res = await transport.request({
      method: "PUT",
      path: withDigest(url),
      headers: { "content-type": "application/octet-stream", "content-length": String(size) },
      body: content instanceof Uint8Array && !options.transfer ? content : stream(),
      scopes,
      accept: [201],
    });
    await res.body?.cancel();
    checkCreated(res, digest);
    return "uploaded";
  }
  // Chunked: PATCH consecutive ranges, then PUT with the digest.
  let offset = 0;
  const reader = stream().getReader();
  let pending = new Uint8Array(0);
  const sendChunk = async (chunk: Uint8Array) => {
    const res = await transport.request({
      method: "PATCH",
      path: url,
      headers: {
        "content-type": "application/octet-stream",
        "content-range": `${offset}-${offset + chunk.byteLength - 1}`,
        "content-length": String(chunk.byteLength),
      },
      body: chunk,
      scopes,
      accept: [202],
    });
    await res.body?.cancel();
    offset += chunk.byteLength;
    url = uploadUrl(transport, res);
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (value) {
      const joined = new Uint8Array(pending.byteLength + value.byteLength);
      joined.set(pending);
      joined.set(value, pending.byteLength);
      pending = joined;
      while (pending.byteLength >= options.chunkSize) {
        await sendChunk(pending.slice(0, options.chunkSize));
        pending = pending.slice(options.chunkSize);
      }
    }
    if (done) break;
  }
  if (pending.byteLength) await sendChunk(pending);
  const res = await transport.request({
    method: "PUT",
    path: withDigest(url),
    headers: { "content-length": "0" },
    body: new Uint8Array(0),
    scopes,
    accept: [201],
  });
  await res.body?.cancel();
  checkCreated(res, digest);
  return "uploaded";
}
