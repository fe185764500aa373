/**
 * The local signature store, laid out as Dangerzone does:
 * `<data-dir>/signatures/<sha256 of the key file>/<image digest hex>.json`,
 * each file a `cosign download signature` JSON list, and beside it
 * `<image digest hex>.bundles.json`, a JSON list of Sigstore bundle
 * documents (cosign v3 signatures). Either file may be absent. Only
 * verified signatures should be written here; reading gives them back
 * parsed (and still to be verified by whoever relies on them).
 *
 * @module
 */

import { join } from "node:path";
import { IoError, SignatureFormatError } from "../errors/errors.ts";
import { parseCosignSignatureList, toCosignDownloadJson } from "../signatures/cosign_list.ts";
import type { CosignSignature } from "../signatures/model.ts";
import { PRIVATE, writeFileAtomic } from "../fs/atomic.ts";
import { readTextIfExists } from "../fs/read_file.ts";
import { isSha256Hex } from "../digest/digest.ts";

function hexOfDigest(digest: string): string {
  const hex = digest.startsWith("sha256:") ? digest.slice(7) : digest;
  if (!isSha256Hex(hex)) throw new TypeError(`not a sha256 digest: ${digest}`);
  return hex;
}

function checkKeyId(keyId: string): void {
  if (!isSha256Hex(keyId)) throw new TypeError(`not a key id (sha256 hex): ${keyId}`);
}

/** `<data-dir>/signatures/<keyId>`. */
function signatureDir(dataDir: string, keyId: string): string {
  checkKeyId(keyId);
  return join(dataDir, "signatures", keyId);
}

/** `<data-dir>/signatures/<keyId>/<digest hex>.json`. */
export function signaturePath(dataDir: string, keyId: string, digest: string): string {
  return join(signatureDir(dataDir, keyId), `${hexOfDigest(digest)}.json`);
}

/**
 * Store (replace, atomically) the signatures of `digest` made by key `keyId`.
 * @returns the file written.
 */
export async function writeSignatures(
  dataDir: string,
  keyId: string,
  digest: string,
  signatures: readonly CosignSignature[],
): Promise<string> {
  const path = signaturePath(dataDir, keyId, digest);
  await writeFileAtomic(path, toCosignDownloadJson(signatures) + "\n", PRIVATE);
  return path;
}

/** `<data-dir>/signatures/<keyId>/<digest hex>.bundles.json`. */
export function bundlePath(dataDir: string, keyId: string, digest: string): string {
  return join(signatureDir(dataDir, keyId), `${hexOfDigest(digest)}.bundles.json`);
}

/**
 * Store (replace, atomically) the Sigstore bundles (JSON documents) of
 * `digest` made by key `keyId`.
 * @returns the file written.
 */
export async function writeBundles(
  dataDir: string,
  keyId: string,
  digest: string,
  bundles: readonly unknown[],
): Promise<string> {
  const path = bundlePath(dataDir, keyId, digest);
  await writeFileAtomic(path, JSON.stringify(bundles, null, 2) + "\n", PRIVATE);
  return path;
}

/**
 * Read the stored bundles of `digest`, or undefined when none are stored.
 * @throws SignatureFormatError (not a JSON list), IoError.
 */
export async function readBundles(
  dataDir: string,
  keyId: string,
  digest: string,
): Promise<unknown[] | undefined> {
  const path = bundlePath(dataDir, keyId, digest);
  const text = await readTextIfExists(path);
  if (text === undefined) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new SignatureFormatError(`${path} is not JSON`, { cause });
  }
  if (!Array.isArray(doc)) throw new SignatureFormatError(`${path} is not a JSON list`);
  return doc;
}

/**
 * Read the stored signatures of `digest`, or undefined when none are stored.
 * @throws SignatureFormatError (malformed file), IoError.
 */
export async function readSignatures(
  dataDir: string,
  keyId: string,
  digest: string,
): Promise<CosignSignature[] | undefined> {
  const text = await readTextIfExists(signaturePath(dataDir, keyId, digest));
  return text === undefined ? undefined : parseCosignSignatureList(text);
}

/** Digests (`sha256:<hex>`) with stored signatures or bundles for `keyId`, sorted. */
export async function listStoredDigests(dataDir: string, keyId: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(signatureDir(dataDir, keyId))) {
      const m = /^([0-9a-f]{64})(?:\.bundles)?\.json$/.exec(e.name);
      if (e.isFile && m) out.push(`sha256:${m[1]}`);
    }
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) return [];
    throw new IoError(`cannot list ${signatureDir(dataDir, keyId)}`, { cause });
  }
  return [...new Set(out)].sort();
}
