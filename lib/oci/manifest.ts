/**
 * Parse and check the JSON of single-platform image manifests and of image
 * indexes read from untrusted sources (their bytes were already checked
 * against a digest; their content was not).
 *
 * @module
 */

import { VerificationError } from "../errors/errors.ts";
import type { Descriptor, ImageIndex, ImageManifest } from "./media_types.ts";
import { isIndexType } from "./media_types.ts";
import { parseDigest } from "../digest/digest.ts";

/** A manifest that is not what it claims (malformed JSON, bad descriptors). */
export class ManifestFormatError extends VerificationError {
  constructor(message: string) {
    super("MANIFEST_MALFORMED", message);
  }
}

function checkDescriptor(d: unknown, where: string): Descriptor {
  const x = d as Descriptor;
  if (
    typeof x !== "object" || x === null || typeof x.mediaType !== "string" ||
    typeof x.digest !== "string" || !Number.isSafeInteger(x.size) || x.size < 0
  ) {
    throw new ManifestFormatError(`${where}: malformed descriptor`);
  }
  try {
    parseDigest(x.digest);
  } catch {
    throw new ManifestFormatError(`${where}: unsupported digest '${x.digest}'`);
  }
  return x;
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new ManifestFormatError(`${what} is not JSON`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new ManifestFormatError(`${what} is not a JSON object`);
  }
  return doc as Record<string, unknown>;
}

/** Is this manifest (by media type or content) an index? */
export function looksLikeIndex(mediaType: string, bytes: Uint8Array): boolean {
  if (isIndexType(mediaType)) return true;
  try {
    const doc = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    return Array.isArray(doc.manifests) && !("config" in doc);
  } catch {
    return false;
  }
}

/** Parse a single-platform image manifest (OCI or Docker schema 2). */
export function parseImageManifest(bytes: Uint8Array, what = "image manifest"): ImageManifest {
  const doc = parseJson(bytes, what);
  if (doc.schemaVersion !== 2) throw new ManifestFormatError(`${what}: schemaVersion is not 2`);
  if (typeof doc.mediaType === "string" && isIndexType(doc.mediaType)) {
    throw new ManifestFormatError(`${what} is an index, not an image manifest`);
  }
  const config = checkDescriptor(doc.config, `${what} config`);
  if (!Array.isArray(doc.layers)) throw new ManifestFormatError(`${what} has no layers list`);
  const layers = doc.layers.map((l, i) => checkDescriptor(l, `${what} layer ${i + 1}`));
  return { ...(doc as unknown as ImageManifest), config, layers };
}

/** Parse an image index (OCI index or Docker manifest list). */
export function parseImageIndex(bytes: Uint8Array, what = "image index"): ImageIndex {
  const doc = parseJson(bytes, what);
  if (doc.schemaVersion !== 2) throw new ManifestFormatError(`${what}: schemaVersion is not 2`);
  if (!Array.isArray(doc.manifests)) throw new ManifestFormatError(`${what} has no manifests`);
  const manifests = doc.manifests.map((m, i) => checkDescriptor(m, `${what} entry ${i + 1}`));
  return { ...(doc as unknown as ImageIndex), manifests };
}
