/**
 * An OCI distribution client (what crane's `pkg/v1/remote` does), over
 * {@linkcode RegistryTransport}: manifests (GET/HEAD/PUT, digest computed
 * from the bytes received and checked), blobs (streamed GET checked as it
 * flows, HEAD, monolithic and chunked upload, cross-repository mount), tags,
 * and the OCI 1.1 referrers API with its `sha256-<hex>` fallback tag.
 *
 * @module
 */

import {
  DigestMismatchError,
  InvalidReferenceError,
  NetworkError,
  RegistryError,
} from "../errors/errors.ts";
import type { Transfer } from "../progress/progress.ts";
import { digestHex, digestingByteStream, parseDigest, sha256Digest } from "../digest/digest.ts";
import {
  type Descriptor,
  type ImageIndex,
  isIndexType,
  MANIFEST_TYPES,
  OCI_INDEX,
} from "../oci/media_types.ts";
import { RegistryTransport, type TransportOptions } from "./transport.ts";
import { verifyingStream } from "../digest/digest.ts";
import { bodyError, paceGuard, readDocument } from "./body_guard.ts";
import { isDeadline, resolveTimings } from "./timing.ts";
import { distinct, MAX_INDEX_ENTRIES, MAX_TAG_PAGES, MAX_TAGS, refuseOverCap } from "./limits.ts";
import { isValidTag } from "./reference.ts";

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

/** Read a response body, refusing more than `limit` bytes while it streams (default timings). */
export function readLimited(res: Response, limit: number, what: string): Promise<Uint8Array> {
  const host = res.url ? new URL(res.url).host : "the registry";
  return readDocument(res, { host, what, limit, timings: resolveTimings() });
}

/** A manifest reference: a tag by the distribution grammar, or a strict sha256 digest. */
export function checkManifestReference(reference: string): string {
  if (reference.startsWith("sha256:")) return parseDigest(reference);
  if (!isValidTag(reference)) {
    throw new InvalidReferenceError(
      `'${reference}' is not a valid tag (letters, digits, _ . -; at most 128; not starting with . or -)`,
    );
  }
  return reference;
}

/** Refuse an index listing more than {@linkcode MAX_INDEX_ENTRIES} entries (before any is fetched). */
function checkIndexEntries(bytes: Uint8Array, where: string): void {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return; // not JSON: its reader says so
  }
  const entries = (doc as { manifests?: unknown } | null)?.manifests;
  if (Array.isArray(entries)) {
    refuseOverCap(entries.length, MAX_INDEX_ENTRIES, `index ${where}`, "entries");
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

  constructor(registry: string, options: TransportOptions = {}) {
    this.transport = new RegistryTransport(registry, options);
    this.idleTimeoutMs = this.transport.timings.idleTimeoutMs;
  }

  /** Read a small document from `res`, bounded in size and time. */
  #document(res: Response, limit: number, what: string): Promise<Uint8Array> {
    const url = res.url ? new URL(res.url) : undefined;
    const host = !url || url.origin === this.transport.origin ? this.registry : url.host;
    return readDocument(res, { host, what, limit, timings: this.transport.timings });
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
    checkManifestReference(reference);
    const res = await this.transport.request({
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: accept.join(", ") },
      scopes: [`repository:${repository}:pull`],
    });
    const bytes = await this.#document(
      res,
      MAX_MANIFEST_BYTES,
      `manifest ${repository}:${reference}`,
    );
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
    const mediaType = mediaTypeOf(bytes, res.headers.get("content-type"));
    if (isIndexType(mediaType)) checkIndexEntries(bytes, where);
    return {
      bytes,
      digest,
      size: bytes.byteLength,
      mediaType,
    };
  }

  /** HEAD a manifest: its descriptor, or undefined when absent. */
  async headManifest(repository: string, reference: string): Promise<Descriptor | undefined> {
    checkManifestReference(reference);
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
    checkManifestReference(reference);
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
    deadlineMs?: number,
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
    const t = this.transport.timings;
    const url = res.url ? new URL(res.url) : undefined;
    const host = !url || url.origin === this.transport.origin ? this.registry : url.host;
    const guarded = paceGuard(res.body, {
      host,
      what: `blob ${descriptor.digest}`,
      idleMs: t.idleTimeoutMs,
      minBytesPerSecond: t.minBytesPerSecond,
      rateWindowMs: t.rateWindowMs,
      // A small blob read whole (config, signature, bundle) is a document: it has a deadline.
      deadline: deadlineMs === undefined ? undefined : t.budget.now() + deadlineMs,
      budget: t.budget,
    });
    const expected = {
      digest: descriptor.digest,
      size: descriptor.size,
      what: `blob ${descriptor.digest} from ${host}`,
    };
    const onChunk = transfer ? (n: number) => transfer.advance(n) : undefined;
    // Without a known size the check is on the digest only, and not remembered as complete.
    return Number.isSafeInteger(descriptor.size)
      ? verifyingStream(guarded, expected, onChunk)
      : digestingByteStream(guarded, expected, onChunk);
  }

  /**
   * The bytes of a blob from `offset` on, for a resumed download: a
   * `Range: bytes=<offset>-` request (none from 0). A registry that
   * honours it answers 206 with `Content-Range: bytes <offset>-<size-1>/<size>`
   * (anything else is refused); one that ignores it answers 200 with the
   * whole blob, and `start` is then 0. The body is bounded in pace like
   * {@linkcode getBlob}'s, but NOT verified: the caller hashes the prefix
   * it holds plus these bytes, and checks the digest at the end.
   * @throws RegistryError for a 206 whose range or length is not the one asked for
   */
  async getBlobFrom(
    repository: string,
    descriptor: Pick<Descriptor, "digest" | "size">,
    offset: number,
  ): Promise<{ start: number; body: ReadableStream<Uint8Array> }> {
    parseDigest(descriptor.digest);
    const size = descriptor.size;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= size) {
      throw new RangeError(`blob ${descriptor.digest}: no bytes from offset ${offset} of ${size}`);
    }
    const res = await this.transport.request({
      path: `/v2/${repository}/blobs/${descriptor.digest}`,
      scopes: [`repository:${repository}:pull`],
      ...(offset > 0 ? { headers: { range: `bytes=${offset}-` } } : {}),
      accept: [200, 206],
    });
    const host = this.#hostOfResponse(res);
    const refuse = async (why: string) => {
      await res.body?.cancel().catch(() => {});
      return new RegistryError(
        res.status,
        `${host}: blob ${descriptor.digest}: ${why}; refused`,
        { hint: "the registry or a proxy on the way is broken; retry later or elsewhere" },
      );
    };
    let start = 0;
    if (res.status === 206) {
      const range = res.headers.get("content-range") ?? "";
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(range.trim());
      if (
        !m || Number(m[1]) !== offset || Number(m[2]) !== size - 1 ||
        (m[3] !== "*" && Number(m[3]) !== size)
      ) {
        throw await refuse(
          `asked for bytes ${offset}-${size - 1} of ${size}, got Content-Range '${
            range.slice(0, 80)
          }'`,
        );
      }
      start = offset;
    }
    const declared = res.headers.get("content-length");
    if (declared !== null && Number(declared) !== size - start) {
      throw await refuse(`sends ${declared} bytes from ${start}, descriptor says ${size} in all`);
    }
    if (!res.body) throw await refuse("empty response");
    const t = this.transport.timings;
    const body = paceGuard(res.body, {
      host,
      what: `blob ${descriptor.digest}`,
      idleMs: t.idleTimeoutMs,
      minBytesPerSecond: t.minBytesPerSecond,
      rateWindowMs: t.rateWindowMs,
      budget: t.budget,
    });
    return { start, body };
  }

  #hostOfResponse(res: Response): string {
    const url = res.url ? new URL(res.url) : undefined;
    return !url || url.origin === this.transport.origin ? this.registry : url.host;
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
      const stream = await this.getBlob(
        repository,
        descriptor,
        undefined,
        this.transport.timings.documentTimeoutMs,
      );
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

  /**
   * All tags of a repository (follows `Link` pagination), de-duplicated;
   * names outside the tag grammar are left out. More than
   * {@linkcode MAX_TAGS} tags or {@linkcode MAX_TAG_PAGES} pages is refused.
   */
  async listTags(repository: string): Promise<string[]> {
    const tags = new Set<string>();
    let path: string | undefined = `/v2/${repository}/tags/list?n=1000`;
    for (let page = 0; path; page++) {
      refuseOverCap(page + 1, MAX_TAG_PAGES, `${this.registry}/${repository}`, "pages of tags");
      const res: Response = await this.transport.request({
        path,
        scopes: [`repository:${repository}:pull`],
        accept: [200, 404],
      });
      if (res.status === 404) {
        await res.body?.cancel();
        return [...tags];
      }
      const body = JSON.parse(
        new TextDecoder().decode(await this.#document(res, MAX_MANIFEST_BYTES, "tag list")),
      ) as { tags?: unknown };
      if (Array.isArray(body?.tags)) {
        for (const t of body.tags) if (typeof t === "string" && isValidTag(t)) tags.add(t);
      }
      refuseOverCap(tags.size, MAX_TAGS, `${this.registry}/${repository}`, "tags");
      const link = res.headers.get("link")?.match(/<([^>]+)>\s*;\s*rel="?next"?/);
      path = link ? link[1] : undefined;
    }
    return [...tags];
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
        new TextDecoder().decode(await this.#document(res, MAX_MANIFEST_BYTES, "referrers index")),
      );
    } else {
      await res.body?.cancel();
      const tag = referrersTag(digest);
      if (await this.headManifest(repository, tag) === undefined) return [];
      const m = await this.getManifest(repository, tag, [OCI_INDEX]);
      index = JSON.parse(new TextDecoder().decode(m.bytes));
    }
    const listed = Array.isArray(index?.manifests) ? index!.manifests : [];
    // The same referrer listed again is one referrer (an amplification otherwise).
    const manifests = distinct(
      listed.filter((d) => d !== null && typeof d === "object" && typeof d.digest === "string"),
      (d) => d.digest,
    );
    refuseOverCap(
      manifests.length,
      MAX_INDEX_ENTRIES,
      `${this.registry}/${repository}: the referrers of ${shortDigest(digest)}`,
      "distinct manifests",
    );
    return artifactType ? manifests.filter((d) => d.artifactType === artifactType) : manifests;
  }
}

/** A failure while reading a response body, as the {@linkcode NetworkError} it is. */
export function asNetworkError(e: unknown, what: string): unknown {
  return bodyError(e, what);
}

function shortDigest(d: string): string {
  return d.length > 19 ? `${d.slice(0, 19)}…` : d;
}

/** Attempts for a small document whose transfer breaks mid-body. */
const BODY_ATTEMPTS = 3;

/**
 * Run `fn` again (up to {@linkcode BODY_ATTEMPTS} times) when the
 * connection breaks mid-body; a missed deadline is not retried.
 */
async function retryBrokenBody<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof NetworkError) || isDeadline(e) || attempt >= BODY_ATTEMPTS) {
        throw e;
      }
    }
  }
}

/**
 * Pass a body through, erroring with {@linkcode NetworkError} when no bytes
 * arrive for `ms` milliseconds (a stalled transfer); see
 * {@linkcode paceGuard} for the rate and deadline checks.
 */
export function stallGuard(
  body: ReadableStream<Uint8Array>,
  ms: number,
  what: string,
): ReadableStream<Uint8Array> {
  return paceGuard(body, { host: "the registry", what, idleMs: ms });
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
