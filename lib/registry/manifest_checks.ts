/**
 * Checks of a manifest reference and of a manifest's bytes as received,
 * before the client hands them on.
 *
 * @module
 */

import { InvalidReferenceError } from "../errors/errors.ts";
import { parseDigest } from "../digest/digest.ts";
import { MAX_INDEX_ENTRIES, refuseOverCap } from "./limits.ts";
import { isValidTag } from "./reference.ts";

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
export function checkIndexEntries(bytes: Uint8Array, where: string): void {
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

/** The manifest's own `mediaType`, else the `Content-Type` header's. */
export function mediaTypeOf(bytes: Uint8Array, header: string | null): string {
  try {
    const doc = JSON.parse(new TextDecoder().decode(bytes)) as { mediaType?: unknown };
    if (typeof doc.mediaType === "string") return doc.mediaType;
  } catch {
    // fall through to the header
  }
  return (header ?? "").split(";")[0].trim();
}
