/**
 * The checks of an unpacked archive's layout documents: `oci-layout`,
 * `index.json` / `dangerzone.json` and every manifest they reach (present,
 * the declared size, the declared media type).
 *
 * @module
 */

import {
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  isIndexType,
} from "../oci/media_types.ts";
import { validateDescriptor } from "../oci/layout.ts";
import { JsonShapeError, parseBoundedJson } from "../json/bounded.ts";
import { ArchiveError } from "./layout_tar.ts";

const decoder = new TextDecoder();

/** `bytes` as bounded JSON; the archive's `what` is named in the error. */
export function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return parseBoundedJson(decoder.decode(bytes));
  } catch (e) {
    if (e instanceof JsonShapeError) throw new ArchiveError(`the archive's ${what} ${e.message}`);
    throw new ArchiveError(`the archive's ${what} is not JSON`);
  }
}

/** `bytes` as an OCI image index with valid descriptors. */
export function parseIndex(bytes: Uint8Array, what: string): ImageIndex {
  const index = parseJson(bytes, what) as ImageIndex;
  if (
    typeof index !== "object" || index === null || index.schemaVersion !== 2 ||
    !Array.isArray(index.manifests)
  ) {
    throw new ArchiveError(`the archive's ${what} is not an OCI image index`);
  }
  for (const d of index.manifests) {
    try {
      validateDescriptor(d, what);
    } catch (e) {
      throw new ArchiveError(`the archive's ${what}: ${(e as Error).message}`);
    }
  }
  return index;
}

/** Largest manifest read while checking references. */
export const MAX_MANIFEST = 4 * 1024 * 1024;

/**
 * Every descriptor reachable from the index must name a blob present with
 * its declared size; an image index may omit whole child manifests (a
 * platform left out), but not all of them. Returns the digests reached.
 */
export function checkReferences(
  index: ImageIndex,
  blobs: Map<string, number>,
  read: (d: Descriptor) => Uint8Array,
): Set<string> {
  const reached = new Set<string>();
  const present = (d: Descriptor, what: string) => {
    const size = blobs.get(d.digest);
    if (size === undefined) {
      throw new ArchiveError(`the archive lacks ${what} ${d.digest}`, {
        hint: "the archive is incomplete or was altered",
      });
    }
    if (size !== d.size) {
      throw new ArchiveError(
        `the archive's ${what} ${d.digest} is ${size} bytes, its descriptor says ${d.size}`,
      );
    }
    reached.add(d.digest);
  };
  const readDoc = (d: Descriptor) => {
    if (d.size > MAX_MANIFEST) throw new ArchiveError(`manifest ${d.digest} is too large`);
    const doc = parseJson(read(d), `manifest ${d.digest}`) as { mediaType?: unknown };
    if (typeof doc !== "object" || doc === null) {
      throw new ArchiveError(`manifest ${d.digest} is not a JSON object`);
    }
    if (doc.mediaType !== undefined && doc.mediaType !== d.mediaType) {
      throw new ArchiveError(
        `manifest ${d.digest} is a ${doc.mediaType}, its descriptor says ${d.mediaType}`,
      );
    }
    return doc;
  };
  const checkManifest = (d: Descriptor, depth: number): void => {
    present(d, "manifest");
    const doc = readDoc(d);
    if (isIndexType(d.mediaType)) {
      if (depth > 2) throw new ArchiveError(`index ${d.digest} nests too deeply`);
      const idx = doc as ImageIndex;
      if (!Array.isArray(idx.manifests)) throw new ArchiveError(`index ${d.digest} is malformed`);
      let found = 0;
      for (const child of idx.manifests) {
        try {
          validateDescriptor(child, `index ${d.digest}`);
        } catch (e) {
          throw new ArchiveError((e as Error).message);
        }
        if (!blobs.has(child.digest)) continue;
        found++;
        checkManifest(child, depth + 1);
      }
      if (found === 0) {
        throw new ArchiveError(`the archive holds none of the manifests index ${d.digest} lists`);
      }
      return;
    }
    const m = doc as ImageManifest;
    if (typeof m.config !== "object" || m.config === null || !Array.isArray(m.layers)) {
      throw new ArchiveError(`manifest ${d.digest} is not an image manifest`);
    }
    for (const x of [m.config, ...m.layers]) {
      try {
        validateDescriptor(x, `manifest ${d.digest}`);
      } catch (e) {
        throw new ArchiveError((e as Error).message);
      }
      present(x, "blob");
    }
  };
  if (index.manifests.length === 0) throw new ArchiveError("the archive's index lists no image");
  for (const d of index.manifests) checkManifest(d, 0);
  return reached;
}
