/**
 * What `upgrade` / `load-archive` installed under each image name:
 * `<data-dir>/installed/<sha256 hex of the name>.json`, replaced
 * atomically, written last (after the runtime holds the image, its
 * signatures are stored and the rollback state advanced). It keeps the
 * verified index and manifest bytes so `verify-local` can re-check the whole
 * chain offline: signatures → signed digest → (index →) platform manifest →
 * config digest = the runtime's image ID.
 *
 * @module
 */

import { join } from "node:path";
import { Buffer } from "node:buffer";
import { IoError, LocalStateError } from "../errors/errors.ts";
import { sha256Digest } from "../digest/digest.ts";
import { PRIVATE, writeFileAtomic } from "../fs/atomic.ts";

/** One installed image. */
export interface InstalledRecord {
  version: 1;
  /** Full image name, e.g. `ghcr.io/a/b:latest`. */
  name: string;
  /** sha256 hex of the key file the signatures were verified with. */
  keyId: string;
  /** The digest the signatures cover (index or manifest). */
  signedDigest: string;
  /** The platform manifest installed. */
  platformDigest: string;
  /** The config digest (the image ID). */
  imageId: string;
  /** The runtime it was installed into. */
  runtime: string;
  /** `os/arch[/variant]` when picked from an index. */
  platform?: string;
  /** The verified index bytes (base64), when the signed digest is an index. */
  index?: string;
  /** The verified platform manifest bytes (base64). */
  manifest: string;
  /** ISO time of installation. */
  installedAt: string;
}

/** `<data-dir>/installed/<sha256(name)>.json`. */
export function installedPath(dataDir: string, name: string): string {
  return join(dataDir, "installed", `${sha256Digest(name).slice(7)}.json`);
}

/** Decode a base64 field of a record. */
export function decodeField(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, "base64"));
}

/** Encode bytes for a record. */
export function encodeField(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/**
 * Read the record of `name`, or undefined.
 * @throws LocalStateError (`LOCAL_STATE_TAMPERED`) when corrupt; IoError when unreadable.
 */
export async function readInstalled(
  dataDir: string,
  name: string,
): Promise<InstalledRecord | undefined> {
  const path = installedPath(dataDir, name);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new IoError(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  let doc: InstalledRecord;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new LocalStateError(`${path} is corrupt (not JSON)`, { cause });
  }
  const s = (v: unknown) => typeof v === "string";
  if (
    doc?.version !== 1 || doc.name !== name || !s(doc.keyId) || !s(doc.signedDigest) ||
    !s(doc.platformDigest) || !s(doc.imageId) || !s(doc.manifest) ||
    (doc.index !== undefined && !s(doc.index))
  ) {
    throw new LocalStateError(`${path} is corrupt`, { hint: "run 'upgrade' again to reinstall" });
  }
  return doc;
}

/** Write (replace) the record, atomically. */
export async function writeInstalled(dataDir: string, record: InstalledRecord): Promise<void> {
  await writeFileAtomic(
    installedPath(dataDir, record.name),
    JSON.stringify(record, null, 2) + "\n",
    PRIVATE,
  );
}
