/**
 * An OCI image layout directory (`oci-layout`, `index.json`,
 * `blobs/sha256/<hex>`): read as an image source (e.g. what `cosign save`
 * writes) and written as a content-addressed store whose blobs are shared
 * between images. Every blob read is checked against its digest and size;
 * every write is atomic.
 *
 * @module
 */

import { join } from "node:path";
import { DigestMismatchError, IoError, VerificationError } from "../errors/errors.ts";
import {
  digestHex,
  digestingByteStream,
  isVerifyingStream,
  parseDigest,
  sha256Digest,
  verifyingStream,
} from "../digest/digest.ts";
import { type Descriptor, type ImageIndex, OCI_INDEX } from "./media_types.ts";
import { fsyncDir, writeFileAtomic, writeStreamAtomic } from "../fs/atomic.ts";
import { hashFile } from "../digest/hash_worker.ts";

/** Annotation naming an index entry (tag or full reference). */
export const REF_NAME = "org.opencontainers.image.ref.name";
/** containerd's annotation for the full image name. */
export const CONTAINERD_NAME = "io.containerd.image.name";
/** cosign save's annotation telling what an entry is. */
export const COSIGN_KIND = "kind";
/** Largest `index.json` / manifest read into memory. */
const MAX_JSON_BYTES = 4 * 1024 * 1024;

/** The layout error: a malformed or tampered layout directory. */
export class LayoutError extends VerificationError {
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super("LAYOUT_INVALID", message, options);
  }
}

/** An OCI image layout on disk. */
export class OciLayout {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Open an existing layout; checks `oci-layout`. */
  static async open(dir: string): Promise<OciLayout> {
    let text: string;
    try {
      text = await Deno.readTextFile(join(dir, "oci-layout"));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new IoError(`${dir} is not an OCI image layout (no oci-layout file)`, { cause: e });
      }
      throw new IoError(`cannot read ${dir}: ${(e as Error).message}`, { cause: e });
    }
    let version: unknown;
    try {
      version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      throw new LayoutError(`${dir}/oci-layout is not JSON`);
    }
    if (version !== "1.0.0") throw new LayoutError(`${dir}: unsupported layout version ${version}`);
    return new OciLayout(dir);
  }

  /** Open a layout, creating an empty one if the directory has none. */
  static async openOrCreate(dir: string): Promise<OciLayout> {
    try {
      return await OciLayout.open(dir);
    } catch (e) {
      if (!(e instanceof IoError)) throw e;
    }
    await Deno.mkdir(join(dir, "blobs", "sha256"), { recursive: true });
    await writeFileAtomic(
      join(dir, "index.json"),
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }),
    );
    await writeFileAtomic(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    return new OciLayout(dir);
  }

  /** The top-level `index.json`. */
  async index(): Promise<ImageIndex> {
    const bytes = await this.#readFileLimited(join(this.dir, "index.json"), MAX_JSON_BYTES);
    let index: ImageIndex;
    try {
      index = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new LayoutError(`${this.dir}/index.json is not JSON`);
    }
    if (index?.schemaVersion !== 2 || !Array.isArray(index.manifests)) {
      throw new LayoutError(`${this.dir}/index.json is not an OCI index`);
    }
    for (const d of index.manifests) validateDescriptor(d, `${this.dir}/index.json`);
    return index;
  }

  /** Path of a blob (the digest is validated first, so no path can escape). */
  blobPath(digest: string): string {
    return join(this.dir, "blobs", "sha256", digestHex(digest));
  }

  async #readFileLimited(path: string, limit: number): Promise<Uint8Array> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch (e) {
      throw new IoError(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
    }
    if (!info.isFile) throw new LayoutError(`${path} is not a regular file`);
    if (info.size > limit) throw new LayoutError(`${path} is larger than ${limit} bytes`);
    return await Deno.readFile(path);
  }

  /** Does the layout hold this blob (as a regular file)? */
  async hasBlob(digest: string): Promise<boolean> {
    try {
      return (await Deno.lstat(this.blobPath(digest))).isFile;
    } catch {
      return false;
    }
  }

  /**
   * Does the layout hold this blob with exactly this content? The file is
   * read and hashed in full (a blob overwritten in place, or truncated, is
   * found); false when it is absent, not a regular file, or differs.
   */
  async hasVerifiedBlob(descriptor: Pick<Descriptor, "digest" | "size">): Promise<boolean> {
    if (!await this.hasBlob(descriptor.digest)) return false;
    try {
      await this.rehashBlob(descriptor);
      return true;
    } catch (e) {
      if (e instanceof DigestMismatchError || e instanceof LayoutError) return false;
      throw e;
    }
  }

  /**
   * Read a stored blob in full and check it hashes to `descriptor`.
   * @throws DigestMismatchError naming the blob when it differs; LayoutError when absent
   */
  async rehashBlob(
    descriptor: Pick<Descriptor, "digest" | "size">,
    onChunk?: (n: number) => void,
  ): Promise<void> {
    const path = await this.#checkedBlobPath(descriptor);
    // Read and hashed by a worker (the main thread stays free); at most size + 1 bytes are read.
    const got = await hashFile(path, descriptor.size);
    const what = `blob ${descriptor.digest}`;
    if (got.size !== descriptor.size) {
      throw new DigestMismatchError(
        `${what}: ${got.size > descriptor.size ? "more than " : ""}${
          Math.min(got.size, descriptor.size)
        } bytes where its descriptor declares ${descriptor.size}`,
      );
    }
    if (got.digest !== descriptor.digest) {
      throw new DigestMismatchError(
        `${what}: content digest is ${got.digest}, expected ${descriptor.digest}`,
      );
    }
    onChunk?.(got.size);
  }

  /** The path of a stored blob, a regular file of the descriptor's size. */
  async #checkedBlobPath(descriptor: Pick<Descriptor, "digest" | "size">): Promise<string> {
    const path = this.blobPath(descriptor.digest);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch (e) {
      throw new LayoutError(`${this.dir} lacks blob ${descriptor.digest}`, { cause: e });
    }
    if (!info.isFile) throw new LayoutError(`${path} is not a regular file`);
    if (info.size !== descriptor.size) {
      throw new DigestMismatchError(
        `blob ${descriptor.digest} is ${info.size} bytes, its descriptor says ${descriptor.size}`,
      );
    }
    return path;
  }

  /** Stream a blob, checked against `descriptor`'s digest and size as it flows. */
  async readBlob(
    descriptor: Pick<Descriptor, "digest" | "size">,
    onChunk?: (n: number) => void,
  ): Promise<ReadableStream<Uint8Array>> {
    const path = await this.#checkedBlobPath(descriptor);
    const file = await Deno.open(path, { read: true });
    return verifyingStream(
      file.readable,
      { ...descriptor, what: `blob ${descriptor.digest}` },
      onChunk,
    );
  }

  /** Read a small blob (manifest, config) fully, verified. */
  async readBlobBytes(
    descriptor: Pick<Descriptor, "digest" | "size">,
    limit = MAX_JSON_BYTES,
  ): Promise<Uint8Array> {
    if (descriptor.size > limit) {
      throw new LayoutError(`blob ${descriptor.digest} is larger than ${limit} bytes`);
    }
    const bytes = await this.#readFileLimited(this.blobPath(descriptor.digest), limit);
    const got = sha256Digest(bytes);
    if (got !== descriptor.digest || bytes.byteLength !== descriptor.size) {
      throw new DigestMismatchError(`blob ${descriptor.digest}: content hashes to ${got}`);
    }
    return bytes;
  }

  /**
   * Store a blob from a stream; verified before it becomes visible. A
   * blob already present is kept (and the stream cancelled) only when its
   * file hashes to the digest; one that does not (overwritten, truncated)
   * is replaced by the verified stream. A stream from
   * {@linkcode verifyingStream} for this very descriptor (what registry and
   * layout sources return) is hashed once, by itself; any other is checked
   * here.
   */
  async writeBlob(
    descriptor: Pick<Descriptor, "digest" | "size">,
    stream: ReadableStream<Uint8Array>,
    options: { signal?: AbortSignal } = {},
  ): Promise<"exists" | "written"> {
    if (await this.hasVerifiedBlob(descriptor)) {
      await stream.cancel();
      return "exists";
    }
    await writeStreamAtomic(
      this.blobPath(descriptor.digest),
      isVerifyingStream(stream, descriptor)
        ? stream
        : digestingByteStream(stream, { ...descriptor, what: `blob ${descriptor.digest}` }),
      { signal: options.signal },
    );
    return "written";
  }

  /**
   * Give this layout a blob by hard-linking `from`, a file whose content was
   * already verified to be exactly `descriptor` and that nobody else can
   * write (a private extraction directory of this process). Its type and
   * size are checked again, and the new name must be that very file. Makes
   * it durable (fsync of file and directory) unless `durable` is false.
   * Returns undefined when linking is impossible (another filesystem, no
   * link support): the caller copies instead.
   */
  async linkBlob(
    from: string,
    descriptor: Pick<Descriptor, "digest" | "size">,
    options: { durable?: boolean } = {},
  ): Promise<"exists" | "written" | undefined> {
    if (await this.hasVerifiedBlob(descriptor)) return "exists";
    // A file under that name that does not hash to it is no copy of the blob: replace it.
    await Deno.remove(this.blobPath(descriptor.digest)).catch(() => {});
    const src = await Deno.lstat(from);
    if (!src.isFile || src.size !== descriptor.size) {
      throw new DigestMismatchError(
        `blob ${descriptor.digest} is ${src.size} bytes, its descriptor says ${descriptor.size}`,
      );
    }
    const to = this.blobPath(descriptor.digest);
    try {
      await Deno.link(from, to);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return "exists";
      return undefined;
    }
    const got = await Deno.lstat(to);
    if (!got.isFile || got.ino !== src.ino || got.dev !== src.dev || got.size !== descriptor.size) {
      await Deno.remove(to).catch(() => {});
      throw new DigestMismatchError(`blob ${descriptor.digest} changed while it was linked`);
    }
    if (options.durable !== false) {
      const f = await Deno.open(to, { read: true });
      try {
        await f.sync();
      } finally {
        f.close();
      }
      await fsyncDir(join(this.dir, "blobs", "sha256"));
    }
    return "written";
  }

  /**
   * Make stored blobs durable: fsync each file (all at once), then the blob
   * directory. For blobs linked with `durable: false` by a caller that
   * syncs them together later, while it moves on to the next transfer.
   */
  async syncBlobs(digests: readonly string[]): Promise<void> {
    await Promise.all(digests.map(async (digest) => {
      const f = await Deno.open(this.blobPath(digest), { read: true });
      try {
        await f.sync();
      } finally {
        f.close();
      }
    }));
    await fsyncDir(join(this.dir, "blobs", "sha256"));
  }

  /** Store bytes as a blob; returns its descriptor fields. */
  async writeBlobBytes(bytes: Uint8Array): Promise<{ digest: string; size: number }> {
    const d = { digest: sha256Digest(bytes), size: bytes.byteLength };
    await this.writeBlob(d, new Blob([bytes as BlobPart]).stream());
    return d;
  }

  /**
   * Name `descriptor` in `index.json` (annotation `org.opencontainers.image.ref.name`
   * = `name`), replacing any entry of that name; written atomically.
   */
  async setRef(
    name: string,
    descriptor: Descriptor,
    extra: Record<string, string> = {},
  ): Promise<void> {
    const index = await this.index();
    index.manifests = index.manifests.filter((d) => d.annotations?.[REF_NAME] !== name);
    index.manifests.push({
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
      ...(descriptor.platform ? { platform: descriptor.platform } : {}),
      annotations: { ...extra, [REF_NAME]: name },
    });
    await writeFileAtomic(join(this.dir, "index.json"), JSON.stringify(index));
  }

  /**
   * Find an image: by digest (an index entry, or any stored manifest), by
   * ref name (tag or full name), or — with neither — the single image
   * entry (cosign save's `kind` image/imageIndex, or the only entry).
   */
  async resolve(selector: { tag?: string; digest?: string } = {}): Promise<Descriptor> {
    const index = await this.index();
    if (selector.digest) {
      const d = parseDigest(selector.digest);
      const entry = index.manifests.find((m) => m.digest === d);
      if (entry) return entry;
      if (await this.hasBlob(d)) {
        const size = (await Deno.lstat(this.blobPath(d))).size;
        const bytes = await this.readBlobBytes({ digest: d, size });
        const doc = JSON.parse(new TextDecoder().decode(bytes)) as { mediaType?: string };
        return { mediaType: doc.mediaType ?? "", digest: d, size };
      }
      throw new LayoutError(`${this.dir} holds no image ${d}`);
    }
    if (selector.tag) {
      const t = selector.tag;
      const entry = index.manifests.find((m) => {
        const n = m.annotations?.[REF_NAME];
        return n === t || (n !== undefined && n.endsWith(`:${t}`) && !t.includes(":"));
      });
      if (!entry) throw new LayoutError(`${this.dir} holds no image tagged '${t}'`);
      return entry;
    }
    const images = index.manifests.filter((m) => {
      const k = m.annotations?.[COSIGN_KIND];
      return k === undefined || k === "dev.cosignproject.cosign/image" ||
        k === "dev.cosignproject.cosign/imageIndex";
    });
    if (images.length !== 1) {
      throw new LayoutError(
        `${this.dir} holds ${images.length} images; name one with :TAG or @sha256:…`,
      );
    }
    return images[0];
  }
}

/** Validate the fields of a descriptor read from untrusted JSON. */
export function validateDescriptor(d: unknown, where: string): asserts d is Descriptor {
  const x = d as Descriptor;
  if (
    typeof x !== "object" || x === null || typeof x.mediaType !== "string" ||
    typeof x.digest !== "string" || !Number.isSafeInteger(x.size) || x.size < 0
  ) {
    throw new LayoutError(`${where}: malformed descriptor`);
  }
  try {
    parseDigest(x.digest);
  } catch (e) {
    throw new LayoutError(`${where}: ${(e as Error).message}`);
  }
}
