/**
 * An OCI distribution client (what crane's `pkg/v1/remote` does), over
 * {@linkcode RegistryTransport}: manifests (GET/HEAD/PUT, digest computed
 * from the bytes received and checked), blobs (streamed GET checked as it
 * flows, HEAD, monolithic and chunked upload, cross-repository mount), tags,
 * and the OCI 1.1 referrers API with its `sha256-<hex>` fallback tag.
 *
 * @module
 */

import { readAllLimited } from "../fs/read_limited.ts";
import { DigestMismatchError, DzError, NetworkError, RegistryError } from "../cli/errors.ts";
import type { Transfer } from "../cli/progress.ts";
import { digestHex, digestingByteStream, parseDigest, sha256Digest } from "./digest.ts";
import { type Descriptor, type ImageIndex, MANIFEST_TYPES, OCI_INDEX } from "./media_types.ts";
import { RegistryTransport, type TransportOptions } from "./transport.ts";
import { verifyingStream } from "../oci/layout.ts";
import { byteStreamFrom, intoReader } from "../fs/byte_stream.ts";

/** Largest manifest accepted (the distribution registry's own limit is 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** A manifest as received: its exact bytes, media type and digest. */
export interface Manifest {
  bytes: Uint8Array;
  mediaType: string;
  /** sha256 of `bytes`, computed here. */
  digest: string;
  size: number;
}

/** Read a response body, refusing more than `limit` bytes. */
export async function readLimited(res: Response, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  if (declared > limit) {
    await res.body?.cancel();
    throw new RegistryError(0, `${what} is ${declared} bytes, more than the ${limit} allowed`);
  }
  if (!res.body) return new Uint8Array(0);
  try {
    return await readAllLimited(
      res.body,
      limit,
      () => new RegistryError(0, `${what} is more than the ${limit} bytes allowed`),
    );
  } catch (e) {
    throw asNetworkError(e, what);
  }
}

function mediaTypeOf(bytes: Uint8Array, header: string | null): string {
  try {
    const doc = JSON.parse(new TextDecoder().decode(bytes)) as { mediaType?: unknown };
    if (typeof doc.mediaType === "string") return doc.mediaType;
  } catch {
    // fall through to the header
  }
  return (header ?? "").split(";")[0].trim();
}

/** Options of {@linkcode RegistryClient.uploadBlob}. */
export interface UploadOptions {
  /** Try to mount the blob from this repository of the same registry first. */
  mountFrom?: string;
  /** Upload in PATCH chunks of this many bytes (default: one monolithic PUT). */
  chunkSize?: number;
  transfer?: Transfer;
}

/** A client for one registry. */
export class RegistryClient {
  readonly transport: RegistryTransport;
  /** A blob body that sends nothing for this long is abandoned (ms). */
  readonly idleTimeoutMs: number;

  constructor(registry: string, options: TransportOptions & { idleTimeoutMs?: number } = {}) {
    this.transport = new RegistryTransport(registry, options);
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  }

  /** Registry name. */
  get registry(): string {
    return this.transport.registry;
  }

  /** Release connections. */
  close(): void {
    this.transport.close();
  }

  /** `GET /v2/`. */
  ping(): Promise<void> {
    return this.transport.ping();
  }

  /**
   * Fetch a manifest by tag or digest. When `reference` is a digest, the
   * bytes must hash to it; for a tag, a `Docker-Content-Digest` header must
   * agree with the bytes.
   */
  getManifest(
    repository: string,
    reference: string,
    accept = MANIFEST_TYPES,
  ): Promise<Manifest> {
    return retryBrokenBody(() => this.#getManifestOnce(repository, reference, accept));
  }

  async #getManifestOnce(
    repository: string,
    reference: string,
    accept: string[],
  ): Promise<Manifest> {
    const res = await this.transport.request({
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: accept.join(", ") },
      scopes: [`repository:${repository}:pull`],
    });
    const bytes = await readLimited(res, MAX_MANIFEST_BYTES, `manifest ${repository}:${reference}`);
    const digest = sha256Digest(bytes);
    const where = `${this.registry}/${repository}@${reference}`;
    if (reference.startsWith("sha256:") && digest !== reference) {
      throw new DigestMismatchError(`manifest ${where}: its bytes hash to ${digest}`);
    }
    const header = res.headers.get("docker-content-digest");
    if (header && header.startsWith("sha256:") && header !== digest) {
      throw new DigestMismatchError(
        `manifest ${where}: registry says ${header}, bytes hash to ${digest}`,
      );
    }
    return {
      bytes,
      digest,
      size: bytes.byteLength,
      mediaType: mediaTypeOf(bytes, res.headers.get("content-type")),
    };
  }

  /** HEAD a manifest: its descriptor, or undefined when absent. */
  async headManifest(repository: string, reference: string): Promise<Descriptor | undefined> {
    const res = await this.transport.request({
      method: "HEAD",
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: MANIFEST_TYPES.join(", ") },
      scopes: [`repository:${repository}:pull`],
      accept: [200, 404],
    });
    await res.body?.cancel();
    if (res.status === 404) return undefined;
    const digest = res.headers.get("docker-content-digest");
    if (!digest) {
      // Some registries omit it on HEAD; fall back to GET and compute it.
      const m = await this.getManifest(repository, reference);
      return { mediaType: m.mediaType, digest: m.digest, size: m.size };
    }
    return {
      mediaType: (res.headers.get("content-type") ?? "").split(";")[0],
      digest: parseDigest(digest),
      size: Number(res.headers.get("content-length") ?? 0),
    };
  }

  /** PUT a manifest under a tag or its digest; returns its digest. */
  async putManifest(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
  ): Promise<string> {
    const digest = sha256Digest(bytes);
    if (reference.startsWith("sha256:") && reference !== digest) {
      throw new DigestMismatchError(`manifest bytes hash to ${digest}, not ${reference}`);
    }
    const res = await this.transport.request({
      method: "PUT",
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { "content-type": mediaType },
      body: bytes,
      scopes: [`repository:${repository}:pull,push`],
      accept: [200, 201, 202],
    });
    await res.body?.cancel();
    const header = res.headers.get("docker-content-digest");
    if (header && header !== digest) {
      throw new DigestMismatchError(`registry stored manifest as ${header}, expected ${digest}`);
    }
    return digest;
  }

  /**
   * Stream a blob. The stream errors (instead of closing) unless the bytes
   * match `descriptor.digest` and `descriptor.size`: commit what you read
   * only when the stream closes cleanly.
   */
  async getBlob(
    repository: string,
    descriptor: Pick<Descriptor, "digest" | "size">,
    transfer?: Transfer,
  ): Promise<ReadableStream<Uint8Array>> {
    parseDigest(descriptor.digest);
    const res = await this.transport.request({
      path: `/v2/${repository}/blobs/${descriptor.digest}`,
      scopes: [`repository:${repository}:pull`],
    });
    const declared = res.headers.get("content-length");
    if (
      declared !== null && descriptor.size !== undefined && Number(declared) !== descriptor.size
    ) {
      await res.body?.cancel();
      throw new DigestMismatchError(
        `blob ${descriptor.digest}: registry sends ${declared} bytes, descriptor says ${descriptor.size}`,
      );
    }
    if (!res.body) throw new RegistryError(res.status, `blob ${descriptor.digest}: empty response`);
    const guarded = stallGuard(res.body, this.idleTimeoutMs, `blob ${descriptor.digest}`);
    const expected = {
      digest: descriptor.digest,
      size: descriptor.size,
      what: `blob ${descriptor.digest}`,
    };
    const onChunk = transfer ? (n: number) => transfer.advance(n) : undefined;
    // Without a known size the check is on the digest only, and not remembered as complete.
    return Number.isSafeInteger(descriptor.size)
      ? verifyingStream(guarded, expected, onChunk)
      : digestingByteStream(guarded, expected, onChunk);
  }

  /** Read a small blob (config, signature payload) fully, verified. */
  async getBlobBytes(
    repository: string,
    descriptor: Pick<Descriptor, "digest" | "size">,
    limit = MAX_MANIFEST_BYTES,
  ): Promise<Uint8Array> {
    if (descriptor.size > limit) {
      throw new RegistryError(
        0,
        `blob ${descriptor.digest} is ${descriptor.size} bytes, more than ${limit}`,
      );
    }
    return await retryBrokenBody(async () => {
      const stream = await this.getBlob(repository, descriptor);
      return new Uint8Array(await new Response(stream).arrayBuffer());
    });
  }

  /** HEAD a blob: its size, or undefined when absent. */
  async headBlob(repository: string, digest: string): Promise<number | undefined> {
    const res = await this.transport.request({
      method: "HEAD",
      path: `/v2/${repository}/blobs/${parseDigest(digest)}`,
      scopes: [`repository:${repository}:pull`],
      accept: [200, 404],
    });
    await res.body?.cancel();
    return res.status === 404 ? undefined : Number(res.headers.get("content-length") ?? 0);
  }

  #uploadUrl(res: Response): string {
    const loc = res.headers.get("location");
    if (!loc) {
      throw new RegistryError(res.status, `${this.registry}: upload session without Location`);
    }
    return new URL(loc, this.transport.origin).href;
  }

  /**
   * Upload a blob unless the registry has it: mount from `mountFrom` when
   * given, else POST + PUT (monolithic) or POST + PATCH… + PUT (chunked).
   * The registry verifies the digest; so does the final PUT's answer.
   */
  async uploadBlob(
    repository: string,
    descriptor: Pick<Descriptor, "digest" | "size">,
    content: Uint8Array | (() => ReadableStream<Uint8Array>),
    options: UploadOptions = {},
  ): Promise<"exists" | "mounted" | "uploaded"> {
    const { digest, size } = descriptor;
    if (await this.headBlob(repository, digest) !== undefined) return "exists";
    const scopes = [`repository:${repository}:pull,push`];
    let start: Response;
    if (options.mountFrom && options.mountFrom !== repository) {
      start = await this.transport.request({
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
      start = await this.transport.request({
        method: "POST",
        path: `/v2/${repository}/blobs/uploads/`,
        scopes,
        accept: [202],
      });
      await start.body?.cancel();
    }
    let url = this.#uploadUrl(start);
    const withDigest = (u: string) => {
      const x = new URL(u);
      x.searchParams.set("digest", digest);
      return x.href;
    };
    const stream = () => {
      const s = content instanceof Uint8Array
        ? new Blob([content as BlobPart]).stream()
        : content();
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
      const res = await this.transport.request({
        method: "PUT",
        path: withDigest(url),
        headers: { "content-type": "application/octet-stream", "content-length": String(size) },
        body: content instanceof Uint8Array && !options.transfer ? content : stream(),
        scopes,
        accept: [201],
      });
      await res.body?.cancel();
      this.#checkCreated(res, digest);
      return "uploaded";
    }
    // Chunked: PATCH consecutive ranges, then PUT with the digest.
    let offset = 0;
    const reader = stream().getReader();
    let pending = new Uint8Array(0);
    const sendChunk = async (chunk: Uint8Array) => {
      const res = await this.transport.request({
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
      url = this.#uploadUrl(res);
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
    const res = await this.transport.request({
      method: "PUT",
      path: withDigest(url),
      headers: { "content-length": "0" },
      body: new Uint8Array(0),
      scopes,
      accept: [201],
    });
    await res.body?.cancel();
    this.#checkCreated(res, digest);
    return "uploaded";
  }

  #checkCreated(res: Response, digest: string): void {
    const header = res.headers.get("docker-content-digest");
    if (header && header !== digest) {
      throw new DigestMismatchError(`registry stored the blob as ${header}, expected ${digest}`);
    }
  }

  /** All tags of a repository (follows `Link` pagination). */
  async listTags(repository: string): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repository}/tags/list?n=1000`;
    for (let page = 0; path && page < 1000; page++) {
      const res: Response = await this.transport.request({
        path,
        scopes: [`repository:${repository}:pull`],
        accept: [200, 404],
      });
      if (res.status === 404) {
        await res.body?.cancel();
        return tags;
      }
      const body = JSON.parse(
        new TextDecoder().decode(await readLimited(res, MAX_MANIFEST_BYTES, "tag list")),
      ) as { tags?: unknown };
      if (Array.isArray(body.tags)) {
        for (const t of body.tags) if (typeof t === "string") tags.push(t);
      }
      const link = res.headers.get("link")?.match(/<([^>]+)>\s*;\s*rel="?next"?/);
      path = link ? link[1] : undefined;
    }
    return tags;
  }

  /**
   * Referrers of a manifest (OCI 1.1): `GET /v2/<name>/referrers/<digest>`,
   * falling back to the `sha256-<hex>` tag schema when the API is absent.
   * Returns the index's descriptors (filtered by `artifactType` if given).
   */
  async referrers(
    repository: string,
    digest: string,
    artifactType?: string,
  ): Promise<Descriptor[]> {
    const q = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : "";
    const res = await this.transport.request({
      path: `/v2/${repository}/referrers/${parseDigest(digest)}${q}`,
      headers: { accept: OCI_INDEX },
      scopes: [`repository:${repository}:pull`],
      accept: [200, 404, 400, 405],
    });
    let index: ImageIndex | undefined;
    const type = (res.headers.get("content-type") ?? "").split(";")[0].trim();
    if (res.status === 200 && type === OCI_INDEX) {
      index = JSON.parse(
        new TextDecoder().decode(await readLimited(res, MAX_MANIFEST_BYTES, "referrers")),
      );
    } else {
      await res.body?.cancel();
      const tag = referrersTag(digest);
      if (await this.headManifest(repository, tag) === undefined) return [];
      const m = await this.getManifest(repository, tag, [OCI_INDEX]);
      index = JSON.parse(new TextDecoder().decode(m.bytes));
    }
    const manifests = Array.isArray(index?.manifests) ? index!.manifests : [];
    return artifactType ? manifests.filter((d) => d.artifactType === artifactType) : manifests;
  }
}

/** A failure while reading a response body, as the {@linkcode NetworkError} it is. */
export function asNetworkError(e: unknown, what: string): unknown {
  if (e instanceof DzError) return e;
  if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) return e;
  return new NetworkError(`${what}: the connection broke: ${(e as Error)?.message ?? e}`, {
    cause: e,
    hint: "retry; check the network and --proxy",
  });
}

/** Attempts for a small document whose transfer breaks mid-body. */
const BODY_ATTEMPTS = 3;

/** Run `fn` again (up to {@linkcode BODY_ATTEMPTS} times) when the connection breaks mid-body. */
async function retryBrokenBody<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof NetworkError) || attempt >= BODY_ATTEMPTS) throw e;
    }
  }
}

/**
 * Pass a body through (as a byte stream: BYOB readers get the bytes straight
 * into their own buffer), erroring with {@linkcode NetworkError} when no
 * bytes arrive for `ms` milliseconds (a stalled transfer). One timer at a
 * time, re-armed only when it fires during a read that is still waiting,
 * rather than one per chunk.
 */
export function stallGuard(
  body: ReadableStream<Uint8Array>,
  ms: number,
  what: string,
): ReadableStream<Uint8Array> {
  const reader = intoReader(body);
  let waiting = false;
  let since = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stalled: NetworkError | undefined;
  const arm = (delay: number) => {
    timer = setTimeout(check, delay);
    // An abandoned body's last timer must not keep the process alive.
    Deno.unrefTimer(timer as unknown as number);
  };
  const disarm = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const check = () => {
    timer = undefined;
    if (!waiting) return;
    const idle = performance.now() - since;
    if (idle >= ms) {
      stalled = new NetworkError(`${what}: no data for ${ms / 1000} s; transfer abandoned`);
      reader.cancel(stalled).catch(() => {});
      return;
    }
    arm(ms - idle);
  };
  return byteStreamFrom(async (view) => {
    waiting = true;
    since = performance.now();
    if (timer === undefined) arm(ms);
    let ended = true;
    try {
      const got = await reader.read(view);
      if (stalled) throw stalled;
      ended = got.done;
      return got;
    } catch (e) {
      throw stalled ?? asNetworkError(e, what);
    } finally {
      waiting = false;
      if (ended) disarm();
    }
  }, async (reason) => {
    disarm();
    await reader.cancel(reason).catch(() => {});
  });
}

/** The fallback tag of the referrers API for a digest: `sha256-<hex>`. */
export function referrersTag(digest: string): string {
  return `sha256-${digestHex(digest)}`;
}

/** cosign's signature tag for an image digest: `sha256-<hex>.sig`. */
export function cosignSignatureTag(digest: string): string {
  return `${referrersTag(digest)}.sig`;
}

/** cosign's attestation tag for an image digest: `sha256-<hex>.att`. */
export function cosignAttestationTag(digest: string): string {
  return `${referrersTag(digest)}.att`;
}
