/**
 * An OCI distribution client (what crane's `pkg/v1/remote` does), over
 * {@linkcode RegistryTransport}: manifests (GET/HEAD/PUT, digest computed
 * from the bytes received and checked), blobs (streamed GET checked as it
 * flows, HEAD, monolithic and chunked upload, cross-repository mount), tags,
 * and the OCI 1.1 referrers API with its `sha256-<hex>` fallback tag.
 *
 * @module
 */

import { DigestMismatchError, RegistryError } from "../errors/errors.ts";
import type { Transfer } from "../progress/progress.ts";
import {
  digestingByteStream,
  parseDigest,
  sha256Digest,
  verifyingStream,
} from "../digest/digest.ts";
import { type Descriptor, isIndexType, MANIFEST_TYPES } from "../oci/media_types.ts";
import { RegistryTransport, type TransportOptions } from "./transport.ts";
import { blobPace, paceGuard, readDocument } from "./body_guard.ts";
import { MAX_TAG_PAGES, MAX_TAGS, refuseOverCap } from "./limits.ts";
import { isValidTag } from "./reference.ts";
import { checkIndexEntries, checkManifestReference, mediaTypeOf } from "./manifest_checks.ts";
import { retryBrokenBody } from "./body_retry.ts";
import { responseHost } from "./response_host.ts";
import { getBlobFrom } from "./blob_range.ts";
import { uploadNewBlob, type UploadOptions } from "./blob_upload.ts";
import { listReferrers } from "./referrers.ts";

export type { UploadOptions } from "./blob_upload.ts";
// The tag names live in cosign_tags.ts; kept importable from here for lib/image and
// lib/update/fetch_signatures.ts (owned elsewhere) until they import cosign_tags.ts.
export { cosignAttestationTag, cosignSignatureTag, referrersTag } from "./cosign_tags.ts";

/** Largest manifest accepted (the distribution registry's own limit is 4 MiB). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** A manifest as received: its exact bytes, media type and digest. */
export interface Manifest {
  bytes: Uint8Array;
  mediaType: string;
  /** sha256 of `bytes`, computed here. */
  digest: string;
  size: number;
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
  document(res: Response, limit: number, what: string): Promise<Uint8Array> {
    return readDocument(res, {
      host: responseHost(res, this.transport),
      what,
      limit,
      timings: this.transport.timings,
    });
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
    const bytes = await this.document(
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
    const host = responseHost(res, this.transport);
    const guarded = paceGuard(res.body, {
      ...blobPace(t, host, `blob ${descriptor.digest}`),
      // A small blob read whole (config, signature, bundle) is a document: it has a deadline.
      deadline: deadlineMs === undefined ? undefined : t.budget.now() + deadlineMs,
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
  getBlobFrom(
    repository: string,
    descriptor: Pick<Descriptor, "digest" | "size">,
    offset: number,
  ): Promise<{ start: number; body: ReadableStream<Uint8Array> }> {
    return getBlobFrom(this.transport, repository, descriptor, offset);
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
    if (await this.headBlob(repository, descriptor.digest) !== undefined) return "exists";
    return await uploadNewBlob(this.transport, repository, descriptor, content, options);
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
        new TextDecoder().decode(await this.document(res, MAX_MANIFEST_BYTES, "tag list")),
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
  referrers(
    repository: string,
    digest: string,
    artifactType?: string,
  ): Promise<Descriptor[]> {
    return listReferrers(this, repository, digest, artifactType, MAX_MANIFEST_BYTES);
  }
}
