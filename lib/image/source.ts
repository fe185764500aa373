/**
 * One interface over every place an image is read from: a registry, an OCI
 * image layout (`oci:DIR`), or an archive from `prepare-archive`
 * (`archive:FILE.tar`, checked and unpacked to a temporary layout first).
 * Manifests and blobs always come back verified against their digests.
 *
 * @module
 */

import type { Transfer } from "../progress/progress.ts";
import type { Manifest, RegistryClient } from "../registry/client.ts";
import { cosignAttestationTag, cosignSignatureTag, referrersTag } from "../registry/client.ts";
import { type Descriptor, isIndexType } from "../oci/media_types.ts";
import { COSIGN_KIND, type OciLayout } from "../oci/layout.ts";
import { passThroughBytes } from "../fs/byte_stream.ts";
import type { ResumeStore } from "../transfer/resume_store.ts";
import { fetchBlobResumable } from "../transfer/resumable_blob.ts";
import { sha256Digest, verifyingStream } from "../digest/digest.ts";
import { RegistryError } from "../errors/errors.ts";
import { isRecord } from "../json/record.ts";
import { distinct, refuseOverCap } from "../registry/limits.ts";

/** Which referrers {@linkcode ImageSource.referrers} lists. */
export interface ReferrerQuery {
  /** Is a listed (well-formed) descriptor wanted, e.g. a bundle artifact? */
  accept(descriptor: Descriptor): boolean;
  /** What the wanted ones are called in a refusal, e.g. `bundle referrers`. */
  what: string;
  /** Most distinct wanted referrers one listing may hold; more is refused. */
  cap: number;
}

/** The referrers a source lists for an image (unverified: each names a manifest to read). */
export interface Referrers {
  /** Wanted descriptors, each digest once, in listed order. */
  descriptors: Descriptor[];
  /**
   * The listing may hold manifests attached to other images (a layout's
   * `index.json` lists all it holds): a referrer whose `subject` is another
   * image is skipped there. A registry lists only the image's referrers, so
   * one attached elsewhere is a lie, reported as such.
   */
  mixed: boolean;
}

/**
 * The wanted descriptors of a listing: objects with a string digest and a
 * numeric size that `query` accepts (and that are not `exclude`), each
 * digest once. More than `cap` is refused (`where` names the listing).
 */
function wantedReferrers(
  list: unknown,
  query: ReferrerQuery,
  where: string,
  options: { exclude?: string; cap?: number } = {},
): Descriptor[] {
  if (!Array.isArray(list)) return [];
  const found = distinct(
    (list as unknown[]).filter((d): d is Descriptor =>
      isRecord(d) && typeof d.digest === "string" && typeof d.size === "number" &&
      d.digest !== options.exclude && query.accept(d as unknown as Descriptor)
    ),
    (d) => d.digest,
  );
  refuseOverCap(found.length, options.cap ?? query.cap, where, `distinct ${query.what}`);
  return found;
}

function shortDigest(d: string): string {
  return d.length > 19 ? `${d.slice(0, 19)}…` : d;
}

/** Where images are read from. */
export interface ImageSource {
  /** Human-readable name of the source, e.g. `ghcr.io/a/b` or `oci:/tmp/x`. */
  readonly name: string;
  /** The manifest the reference names (tag, digest, or the source's only image). */
  resolve(): Promise<Manifest>;
  /** A manifest by digest (bytes checked). */
  manifest(digest: string): Promise<Manifest>;
  /** A manifest by tag, or undefined when there is none. */
  manifestByTag(tag: string): Promise<Manifest | undefined>;
  /**
   * cosign's signature (`sigs`) or attestation (`atts`) manifest for an image
   * digest: the `sha256-<hex>.sig|.att` tag, or in a `cosign save` layout the
   * index entry annotated `kind: dev.cosignproject.cosign/sigs|atts`.
   */
  cosignArtifact(digest: string, kind: "sigs" | "atts"): Promise<Manifest | undefined>;
  /**
   * The referrers of an image digest that `query` wants: a registry's
   * referrers API (or its `sha256-<hex>` fallback tag); in a layout, the
   * referrers index stored under that tag, then the `index.json` entries
   * (the first up to `query.cap`, the image itself left out).
   * @throws VerificationError (`LISTING_TOO_LONG`) past `query.cap`
   */
  referrers(digest: string, query: ReferrerQuery): Promise<Referrers>;
  /** A blob as a verified stream. */
  blob(
    descriptor: Pick<Descriptor, "digest" | "size">,
    transfer?: Transfer,
  ): Promise<ReadableStream<Uint8Array>>;
  /** A small blob fully, verified. */
  blobBytes(descriptor: Pick<Descriptor, "digest" | "size">): Promise<Uint8Array>;
  /**
   * Optional: put a blob into `layout` without copying it (a hard link),
   * when this source holds it verified in a private directory on the same
   * filesystem. Undefined when it cannot: the caller copies through
   * {@linkcode ImageSource.blob} instead.
   */
  linkBlob?(
    descriptor: Pick<Descriptor, "digest" | "size">,
    layout: OciLayout,
    options?: { durable?: boolean; transfer?: Transfer },
  ): Promise<"exists" | "written" | undefined>;
  /** Release what the source holds (connections, temp dirs). */
  close(): Promise<void>;
}

/** Largest blob a {@linkcode RegistrySource} keeps in memory once fetched (bytes). */
const SMALL_BLOB = 64 * 1024;

/** Options of {@linkcode RegistrySource}. */
export interface RegistrySourceOptions {
  /**
   * Download large blobs through this resume area (`lib/transfer/`): a
   * transfer cut short continues by HTTP Range, in this run or the next.
   */
  resume?: ResumeStore;
}

/** Images in a registry repository. */
export class RegistrySource implements ImageSource {
  readonly name: string;
  constructor(
    readonly client: RegistryClient,
    readonly repository: string,
    readonly reference: { tag?: string; digest?: string },
    readonly options: RegistrySourceOptions = {},
  ) {
    this.name = `${client.registry}/${repository}`;
  }
  resolve(): Promise<Manifest> {
    return this.client.getManifest(
      this.repository,
      this.reference.digest ?? this.reference.tag ?? "latest",
    );
  }
  manifest(digest: string): Promise<Manifest> {
    return this.client.getManifest(this.repository, digest);
  }
  async manifestByTag(tag: string): Promise<Manifest | undefined> {
    if (await this.client.headManifest(this.repository, tag) === undefined) return undefined;
    return await this.client.getManifest(this.repository, tag);
  }
  /** One GET of the `.sig` / `.att` tag: a 404 means there is none. */
  async cosignArtifact(digest: string, kind: "sigs" | "atts"): Promise<Manifest | undefined> {
    const tag = kind === "sigs" ? cosignSignatureTag(digest) : cosignAttestationTag(digest);
    try {
      return await this.client.getManifest(this.repository, tag);
    } catch (e) {
      if (e instanceof RegistryError && e.status === 404) return undefined;
      throw e;
    }
  }
  async referrers(digest: string, query: ReferrerQuery): Promise<Referrers> {
    // No artifactType filter on the request: `query` may accept several, and
    // a registry may not filter anyway.
    const listed = await this.client.referrers(this.repository, digest);
    const where = `${this.name}: the referrers of ${shortDigest(digest)}`;
    return { descriptors: wantedReferrers(listed, query, where), mixed: false };
  }
  async blob(
    d: Pick<Descriptor, "digest" | "size">,
    transfer?: Transfer,
  ): Promise<ReadableStream<Uint8Array>> {
    const store = this.options.resume;
    if (!store || !Number.isSafeInteger(d.size)) {
      return await this.client.getBlob(this.repository, d, transfer);
    }
    const path = await fetchBlobResumable(this.client, this.repository, d, store, { transfer });
    // Served from the complete file, hashed once more as it is read; forgotten once read whole.
    const file = await Deno.open(path, { read: true });
    return verifyingStream(
      passThroughBytes(file.readable, { onEnd: () => void store.remove(d.digest) }),
      { ...d, what: `blob ${d.digest}` },
    );
  }
  /** Small verified blobs already fetched (the config read for its build time): not fetched twice. */
  readonly #small = new Map<string, Uint8Array>();
  async blobBytes(d: Pick<Descriptor, "digest" | "size">): Promise<Uint8Array> {
    const held = this.#small.get(d.digest);
    if (held && held.byteLength === d.size) return held;
    const bytes = await this.client.getBlobBytes(this.repository, d);
    if (bytes.byteLength <= SMALL_BLOB && this.#small.size < 64) this.#small.set(d.digest, bytes);
    return bytes;
  }
  /**
   * With a resume area: download the blob there (resuming what is kept),
   * then hard-link the verified file into `layout` (copied, and hashed again,
   * when it is on another filesystem). Undefined without one.
   */
  async linkBlob(
    d: Pick<Descriptor, "digest" | "size">,
    layout: OciLayout,
    options: { durable?: boolean; transfer?: Transfer } = {},
  ): Promise<"exists" | "written" | undefined> {
    const store = this.options.resume;
    if (!store || !Number.isSafeInteger(d.size)) return undefined;
    const held = this.#small.get(d.digest);
    if (held && held.byteLength === d.size) {
      // Verified when it was fetched (digest and size); hashed again as it is written.
      const r = await layout.writeBlob(d, new Blob([held as BlobPart]).stream());
      options.transfer?.advance(d.size);
      return r;
    }
    const path = await fetchBlobResumable(this.client, this.repository, d, store, {
      transfer: options.transfer,
    });
    let result = await layout.linkBlob(path, d, { durable: options.durable });
    if (result === undefined) {
      const file = await Deno.open(path, { read: true });
      result = await layout.writeBlob(
        d,
        verifyingStream(file.readable, { ...d, what: `blob ${d.digest}` }),
      );
    }
    await store.remove(d.digest);
    return result;
  }
  close(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }
}

/** Images in an OCI image layout directory. */
export class LayoutSource implements ImageSource {
  readonly name: string;
  /**
   * @param options.verifiedPrivate the layout is a private (0700) directory
   *   of this process whose every blob was verified as it was written (an
   *   unpacked archive): its blobs may be hard-linked instead of copied.
   */
  constructor(
    readonly layout: OciLayout,
    readonly reference: { tag?: string; digest?: string },
    readonly onClose?: () => Promise<void>,
    readonly options: { verifiedPrivate?: boolean; name?: string } = {},
  ) {
    // An unpacked archive is named after the archive, never its temporary directory.
    this.name = options.name ?? `oci:${layout.dir}`;
  }
  async #manifestFor(d: Descriptor): Promise<Manifest> {
    const bytes = await this.layout.readBlobBytes(d);
    return { bytes, digest: sha256Digest(bytes), size: bytes.byteLength, mediaType: d.mediaType };
  }
  async resolve(): Promise<Manifest> {
    return await this.#manifestFor(await this.layout.resolve(this.reference));
  }
  async manifest(digest: string): Promise<Manifest> {
    return await this.#manifestFor(await this.layout.resolve({ digest }));
  }
  async manifestByTag(tag: string): Promise<Manifest | undefined> {
    try {
      return await this.#manifestFor(await this.layout.resolve({ tag }));
    } catch {
      return undefined;
    }
  }
  async cosignArtifact(digest: string, kind: "sigs" | "atts"): Promise<Manifest | undefined> {
    const byTag = await this.manifestByTag(
      kind === "sigs" ? cosignSignatureTag(digest) : cosignAttestationTag(digest),
    );
    if (byTag) return byTag;
    // `cosign save` layouts hold one image: its artifacts are marked by `kind`.
    const entries = (await this.layout.index()).manifests.filter((m) =>
      m.annotations?.[COSIGN_KIND] === `dev.cosignproject.cosign/${kind}`
    );
    if (entries.length === 0) return undefined;
    const image = await this.layout.resolve();
    if (image.digest !== digest) return undefined;
    return await this.#manifestFor(entries[0]);
  }
  async referrers(digest: string, query: ReferrerQuery): Promise<Referrers> {
    const found = new Map<string, Descriptor>();
    // A referrers index stored under the fallback tag (as pushed to a registry).
    const tag = referrersTag(digest);
    const tagged = await this.manifestByTag(tag);
    if (tagged && isIndexType(tagged.mediaType)) {
      let index: unknown;
      try {
        index = JSON.parse(new TextDecoder().decode(tagged.bytes));
      } catch {
        // not an index: nothing listed there
      }
      const where = `${this.name}: the referrers index ${tag}`;
      for (const d of wantedReferrers(isRecord(index) ? index.manifests : [], query, where)) {
        found.set(d.digest, d);
      }
    }
    // Artifacts listed directly in index.json. A local layout (the `oci:`
    // store) also lists every image it holds: the first entries are looked
    // at (archive limits bound the rest).
    const local = (await this.layout.index()).manifests;
    for (
      const d of wantedReferrers(local, query, this.name, { exclude: digest, cap: Infinity })
    ) {
      if (found.size >= query.cap) break;
      found.set(d.digest, d);
    }
    return { descriptors: [...found.values()], mixed: true };
  }
  blob(d: Pick<Descriptor, "digest" | "size">, transfer?: Transfer) {
    return this.layout.readBlob(d, (n) => transfer?.advance(n));
  }
  blobBytes(d: Pick<Descriptor, "digest" | "size">) {
    return this.layout.readBlobBytes(d);
  }
  async linkBlob(
    d: Pick<Descriptor, "digest" | "size">,
    layout: OciLayout,
    options: { durable?: boolean; transfer?: Transfer } = {},
  ): Promise<"exists" | "written" | undefined> {
    // A layout someone else can write could change a blob after it is linked: copy those.
    if (!this.options.verifiedPrivate) return undefined;
    const linked = await layout.linkBlob(this.layout.blobPath(d.digest), d, {
      durable: options.durable,
    });
    if (linked !== undefined) options.transfer?.advance(d.size);
    return linked;
  }
  async close(): Promise<void> {
    await this.onClose?.();
  }
}
