/**
 * The `FILE_OR_DIGEST` argument of `verify-bundle`, read the way the Sigstore
 * conformance protocol defines it: `sha256:` followed by 64 lowercase hex digits, and
 * not the path of an existing file, is a digest; anything else is a file.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { pathExists as exists } from "../fs/exists.ts";
import { isDigest } from "../digest/digest.ts";
import { readLocalFile } from "../fs/read_file.ts";

/** What to verify the bundle for. */
export type Artifact =
  | { kind: "digest"; sha256: Uint8Array }
  | { kind: "file"; path: string; bytes: Uint8Array; sha256: Uint8Array };

/** Is `arg` a `sha256:<64 lowercase hex>` digest in the protocol's sense (syntax only)? */
export function looksLikeDigest(arg: string): boolean {
  return isDigest(arg);
}

/** The artifact for a `sha256:<hex>` digest. */
export function digestArtifact(digest: string): Artifact {
  if (!looksLikeDigest(digest)) throw new TypeError(`not a sha256 digest: ${digest}`);
  return { kind: "digest", sha256: new Uint8Array(Buffer.from(digest.slice(7), "hex")) };
}

/** The artifact for some bytes (a file already read). */
export function bytesArtifact(bytes: Uint8Array, path = "<bytes>"): Artifact {
  const sha256 = new Uint8Array(crypto.createHash("sha256").update(bytes).digest());
  return { kind: "file", path, bytes, sha256 };
}

/**
 * Resolve `FILE_OR_DIGEST`: a digest when it has the syntax and no such file
 * exists, otherwise the file's bytes.
 * @throws IoError when the file cannot be read.
 */
export async function resolveArtifact(arg: string): Promise<Artifact> {
  if (looksLikeDigest(arg) && !(await exists(arg))) return digestArtifact(arg);
  return bytesArtifact(await readLocalFile(arg, { what: "artifact" }), arg);
}
