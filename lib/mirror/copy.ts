/**
 * `copy SRC DST` (cosign copy, for an organisation's mirror): an image and
 * everything that lets it be verified (cosign `.sig` and `.att` images,
 * Sigstore bundle referrers listed under the `sha256-<hex>` fallback tag)
 * from one registry to another.
 *
 * Order, so that a refused copy writes nothing to DST:
 * 1. resolve SRC, read its whole manifest tree (every manifest hashed
 *    against its digest), fetch its signatures and bundles and verify them
 *    with the trusted key, its transparency log and the signed identity
 *    (SRC's repository or `--signed-identity`): at least one must be valid;
 * 2. only then write to DST, leaves first (blobs, platform manifests, the
 *    index, then the signature artifacts, the fallback tag index and
 *    finally the tag). Every blob is streamed from SRC to DST, never
 *    buffered, checked against its digest and size while it passes (and by
 *    DST on commit); a mismatch aborts before any manifest naming it is
 *    written.
 *
 * The whole signed tree is copied, every platform: the signature covers the
 * index digest, and an index whose entries are missing is refused by
 * registries and would break the fleet's machines of other platforms. So
 * `--all-platforms` is the only behaviour (accepted for cosign's habit),
 * and no partial copy of a signed index is ever made.
 *
 * @module
 */

import type { Progress } from "../progress/progress.ts";
import { silentProgress } from "../progress/progress.ts";
import { RegistryError } from "../errors/errors.ts";
import type { Manifest, RegistryClient } from "../registry/client.ts";
import { cosignAttestationTag, cosignSignatureTag, referrersTag } from "../registry/cosign_tags.ts";
import { type Descriptor, OCI_INDEX } from "../oci/media_types.ts";
import { RegistrySource } from "../image/source.ts";
import { looksLikeIndex, parseImageIndex } from "../oci/manifest.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import { acceptedIdentities } from "../signatures/signed_identity.ts";
import { isRecord } from "../json/record.ts";
import { positionsOf, verifiedSignaturesFor } from "../update/verified_set.ts";
import { dropUnusable, findBundles, findSignatures } from "../image/discovery.ts";
import type { LoggedPosition } from "../store/rollback_state.ts";

/** At most this many manifests are copied for one image (tree, artifacts and referrers). */
const MAX_COPY_MANIFESTS = 1024;

/** What to copy where, and how to trust it. */
export interface CopyRequest {
  src: RegistryClient;
  srcRepository: string;
  /** SRC's tag or digest (default tag `latest`). */
  srcReference: { tag?: string; digest?: string };
  dst: RegistryClient;
  dstRepository: string;
  /** Tag to set in DST (default: SRC's tag; none when SRC names a digest only). */
  dstTag?: string;
  key: TrustedKey;
  trustedRoot: LoadedTrustedRoot;
  /** Other repositories whose signatures are accepted (SRC is itself a mirror). */
  signedIdentities?: readonly string[];
  progress?: Progress;
}

/** What was copied. */
export interface CopyResult {
  /** The signed digest (an index or a manifest). */
  digest: string;
  /** The tag set in DST, if any. */
  tag?: string;
  /** Image manifests and indexes of the signed tree. */
  manifests: number;
  /** `.sig` / `.att` images and bundle referrers copied. */
  artifacts: { signatures: number; attestations: number; referrers: number };
  blobs: { copied: number; present: number; bytes: number };
  /** Valid signatures (of both kinds) found for the signed digest before anything was written. */
  verifiedSignatures: number;
  tlog: LoggedPosition[];
}

/** A stream opened only when first read (a blob DST already has is never fetched). */
function lazyStream(open: () => Promise<ReadableStream<Uint8Array>>): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      reader ??= (await open()).getReader();
      const { value, done } = await reader.read();
      if (done) ctl.close();
      else ctl.enqueue(value);
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  });
}

/** A manifest in the tree, read and hashed, with what it references. */
interface Node {
  manifest: Manifest;
  children: string[];
  blobs: Descriptor[];
}

function parseNode(m: Manifest, what: string): Node {
  if (looksLikeIndex(m.mediaType, m.bytes)) {
    return {
      manifest: m,
      children: parseImageIndex(m.bytes, what).manifests.map((d) => d.digest),
      blobs: [],
    };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(m.bytes));
  } catch {
    throw new RegistryError(0, `${what} is not JSON`);
  }
  const blobs: Descriptor[] = [];
  if (isRecord(doc)) {
    const all = [doc.config, ...(Array.isArray(doc.layers) ? doc.layers : [])];
    for (const d of all) {
      if (isRecord(d) && typeof d.digest === "string" && typeof d.size === "number") {
        blobs.push(d as unknown as Descriptor);
      }
    }
  }
  return { manifest: m, children: [], blobs };
}

/** Reads SRC, counting manifests against {@linkcode MAX_COPY_MANIFESTS}. */
class TreeReader {
  count = 0;
  constructor(readonly source: RegistrySource) {}

  async #get(reference: string): Promise<Node> {
    if (++this.count > MAX_COPY_MANIFESTS) {
      throw new RegistryError(0, `more than ${MAX_COPY_MANIFESTS} manifests to copy; refused`);
    }
    // getManifest hashes the bytes (against the digest when it is one).
    const m = await this.source.client.getManifest(this.source.repository, reference);
    return parseNode(m, `manifest ${reference}`);
  }

  /** The tree under `digest`, leaves first (each manifest once). */
  async tree(digest: string, out: Node[] = [], seen = new Set<string>()): Promise<Node[]> {
    if (seen.has(digest)) return out;
    seen.add(digest);
    const node = await this.#get(digest);
    for (const c of node.children) await this.tree(c, out, seen);
    out.push(node);
    return out;
  }

  /** The manifest under `tag` (and its tree, leaves first), or undefined when there is none. */
  async tagged(tag: string): Promise<Node[] | undefined> {
    const top = await this.source.manifestByTag(tag);
    if (!top) return undefined;
    this.count++;
    return await this.tree(top.digest);
  }
}

/** A manifest to write in DST, under its digest or a tag. */
interface Write {
  node: Node;
  reference: string;
}

/**
 * Verify, then copy: see the module doc.
 * @throws VerificationError (no valid signature, wrong identity, tampered data), RegistryError, NetworkError
 */
export async function copyImage(req: CopyRequest): Promise<CopyResult> {
  const progress = req.progress ?? silentProgress;
  const source = new RegistrySource(req.src, req.srcRepository, req.srcReference);
  const top = await source.resolve();
  const digest = top.digest;
  const reader = new TreeReader(source);

  // 1. Read and verify everything before the first write to DST.
  const tree = await reader.tree(digest);
  // Unusable signatures and bundles are dropped: they could not verify.
  const fetched = dropUnusable(await findSignatures(source, digest));
  const bundles = dropUnusable(await findBundles(source, digest));
  const verified = verifiedSignaturesFor(
    fetched.usable.map((f) => f.signature),
    digest,
    req.key,
    req.trustedRoot,
    bundles.usable.map((f) => f.bundle),
    acceptedIdentities(`${req.src.registry}/${req.srcRepository}`, req.signedIdentities),
  );
  progress.note(
    `${
      verified.signatures.length + verified.bundles.length
    } valid signature(s) of ${digest}; copying`,
  );

  // Artifacts of every manifest in the tree (recursive signatures sign each one).
  const writes: Write[] = tree.map((node) => ({ node, reference: node.manifest.digest }));
  const artifacts = { signatures: 0, attestations: 0, referrers: 0 };
  const fallbackIndexes: { tag: string; manifest: Manifest }[] = [];
  for (const node of tree) {
    const d = node.manifest.digest;
    for (
      const [tag, kind] of [[cosignSignatureTag(d), "signatures"], [
        cosignAttestationTag(d),
        "attestations",
      ]] as const
    ) {
      const nodes = await reader.tagged(tag);
      if (!nodes) continue;
      artifacts[kind]++;
      writes.push(...nodes.slice(0, -1).map((n) => ({ node: n, reference: n.manifest.digest })));
      writes.push({ node: nodes.at(-1)!, reference: tag });
    }
    const listed = await req.src.referrers(req.srcRepository, d);
    const kept: Descriptor[] = [];
    for (const r of listed) {
      if (!isRecord(r) || typeof r.digest !== "string") continue;
      for (const n of await reader.tree(r.digest)) {
        writes.push({ node: n, reference: n.manifest.digest });
      }
      kept.push(r);
      artifacts.referrers++;
    }
    if (kept.length > 0) {
      const bytes = new TextEncoder().encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: kept,
      }));
      fallbackIndexes.push({
        tag: referrersTag(d),
        manifest: { bytes, mediaType: OCI_INDEX, digest: "", size: bytes.byteLength },
      });
    }
  }

  // 2. Write: blobs, manifests (leaves first), fallback tag indexes, the tag last.
  const blobs = { copied: 0, present: 0, bytes: 0 };
  const copiedBlobs = new Set<string>();
  for (const { node } of writes) {
    for (const b of node.blobs) {
      if (copiedBlobs.has(b.digest)) continue;
      copiedBlobs.add(b.digest);
      const transfer = progress.start(`copying ${b.digest.slice(7, 19)}`, b.size);
      let how;
      try {
        how = await req.dst.uploadBlob(
          req.dstRepository,
          b,
          () => lazyStream(() => source.blob(b)),
          { transfer },
        );
      } catch (e) {
        transfer.done(false);
        throw e;
      }
      transfer.done(true);
      if (how === "exists") blobs.present++;
      else {
        blobs.copied++;
        blobs.bytes += b.size;
      }
    }
  }
  const written = new Set<string>();
  for (const { node, reference } of writes) {
    const key = `${reference}@${node.manifest.digest}`;
    if (written.has(key)) continue;
    written.add(key);
    await req.dst.putManifest(
      req.dstRepository,
      reference,
      node.manifest.bytes,
      node.manifest.mediaType,
    );
  }
  for (const f of fallbackIndexes) {
    await req.dst.putManifest(req.dstRepository, f.tag, f.manifest.bytes, OCI_INDEX);
  }
  const tag = req.dstTag ?? req.srcReference.tag;
  if (tag) await req.dst.putManifest(req.dstRepository, tag, top.bytes, top.mediaType);
  return {
    digest,
    ...(tag ? { tag } : {}),
    manifests: tree.length,
    artifacts,
    blobs,
    verifiedSignatures: verified.signatures.length + verified.bundles.length,
    tlog: positionsOf(verified),
  };
}
