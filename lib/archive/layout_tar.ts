/**
 * The shape of an air-gapped archive: a tar of an OCI image layout as
 * `cosign save` writes it (`oci-layout`, `index.json`, `blobs/sha256/<hex>`)
 * plus Dangerzone's `dangerzone.json` (the full cosign index, kept when the
 * `index.json` is reduced to images only). Names, limits, and the one
 * function that decides whether a tar entry may exist at all.
 *
 * @module
 */

import { VerificationError } from "../errors/errors.ts";
import type { ImageIndex } from "../oci/media_types.ts";
import { COSIGN_KIND } from "../oci/layout.ts";

/** Dangerzone's copy of the full cosign index inside the archive. */
export const DANGERZONE_MANIFEST = "dangerzone.json";
/** The layout marker file. */
export const OCI_LAYOUT_FILE = "oci-layout";
/** The layout index. */
export const INDEX_FILE = "index.json";

/**
 * `manifest.json`, docker-archive's list of images (what `docker load` of
 * Engine < 25 reads): written so that `docker load -i` takes the archive as
 * it is; never read for anything that counts (the layout is the archive).
 */
export const DOCKER_MANIFEST_FILE = "manifest.json";

/** `kind` annotation values cosign save writes. */
export const KIND = {
  imageIndex: "dev.cosignproject.cosign/imageIndex",
  image: "dev.cosignproject.cosign/image",
  sigs: "dev.cosignproject.cosign/sigs",
  atts: "dev.cosignproject.cosign/atts",
} as const;

/** Limits on what an archive may hold (refused beyond them, before loading). */
export interface ArchiveLimits {
  /** Most tar entries (files and directories). */
  maxEntries: number;
  /** Largest single blob, bytes. */
  maxBlobBytes: number;
  /** Largest sum of entry sizes, bytes. */
  maxTotalBytes: number;
  /** Largest JSON file (`index.json`, `dangerzone.json`, `oci-layout`), bytes. */
  maxJsonBytes: number;
}

/** Default limits: generous for a container image, far below anything abusive. */
export const DEFAULT_LIMITS: ArchiveLimits = {
  maxEntries: 10_000,
  maxBlobBytes: 16 * 1024 ** 3,
  maxTotalBytes: 32 * 1024 ** 3,
  maxJsonBytes: 4 * 1024 * 1024,
};

/** The archive is malformed or unsafe: refused, exit 1. */
export class ArchiveError extends VerificationError {
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super("ARCHIVE_INVALID", message, options);
  }
}

/** What a tar entry is, once its name is accepted. */
export type EntryKind =
  | { kind: "dir" }
  | {
    kind: "json";
    file:
      | typeof OCI_LAYOUT_FILE
      | typeof INDEX_FILE
      | typeof DANGERZONE_MANIFEST
      | typeof DOCKER_MANIFEST_FILE;
  }
  | { kind: "blob"; digest: string };

const BLOB_NAME = /^blobs\/sha256\/([0-9a-f]{64})$/;
const LAYOUT_DIRS = new Set(["", "blobs", "blobs/sha256"]);

/**
 * Normalize a tar entry name (`./x` → `x`, a trailing `/` dropped for
 * directories) and refuse anything unsafe: absolute paths, `..`, empty or
 * `.` components in the middle, backslashes, NUL.
 * @throws ArchiveError
 */
export function normalizeEntryName(raw: string): string {
  if (raw.includes("\0") || raw.includes("\\")) {
    throw new ArchiveError(`archive entry '${printable(raw)}' has a forbidden character`);
  }
  if (raw.startsWith("/")) {
    throw new ArchiveError(`archive entry '${printable(raw)}' is an absolute path`);
  }
  const parts = raw.split("/");
  if (parts.includes("..")) {
    throw new ArchiveError(`archive entry '${printable(raw)}' climbs out with '..'`);
  }
  let start = 0;
  while (start < parts.length - 1 && parts[start] === ".") start++;
  let rest = parts.slice(start);
  if (rest.length === 1 && rest[0] === ".") rest = [""];
  if (rest.length > 1 && rest[rest.length - 1] === "") rest = rest.slice(0, -1);
  if (rest.length > 1 && rest.some((p) => p === "" || p === ".")) {
    throw new ArchiveError(`archive entry '${printable(raw)}' has an empty or '.' component`);
  }
  return rest.join("/");
}

/**
 * Decide what an entry is, from its (raw) name and tar type. Only the
 * layout's files and directories are allowed; links, devices, FIFOs and
 * any other name are refused.
 * @throws ArchiveError
 */
export function classifyEntry(rawName: string, type: string | undefined): {
  name: string;
  entry: EntryKind;
} {
  const name = normalizeEntryName(rawName);
  const t = type ?? "file";
  if (t === "directory") {
    if (!LAYOUT_DIRS.has(name)) {
      throw new ArchiveError(`archive holds a directory outside the layout: '${printable(name)}'`);
    }
    return { name, entry: { kind: "dir" } };
  }
  if (t !== "file") {
    throw new ArchiveError(
      `archive entry '${printable(name)}' is a ${t}; only regular files are allowed`,
    );
  }
  if (
    name === OCI_LAYOUT_FILE || name === INDEX_FILE || name === DANGERZONE_MANIFEST ||
    name === DOCKER_MANIFEST_FILE
  ) {
    return { name, entry: { kind: "json", file: name } };
  }
  const m = BLOB_NAME.exec(name);
  if (m) return { name, entry: { kind: "blob", digest: `sha256:${m[1]}` } };
  throw new ArchiveError(`archive holds a file outside the OCI layout: '${printable(name)}'`);
}

/** The index with only image entries (what Dangerzone's `index.json` keeps). */
export function imagesOnly(index: ImageIndex): ImageIndex {
  return {
    ...index,
    manifests: index.manifests.filter((m) => {
      const k = m.annotations?.[COSIGN_KIND];
      return k === KIND.image || k === KIND.imageIndex;
    }),
  };
}

/** Deep equality of two JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ka = Object.keys(a as object).sort();
  const kb = Object.keys(b as object).sort();
  return jsonEqual(ka, kb) &&
    ka.every((k) =>
      jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
    );
}

function printable(s: string): string {
  // deno-lint-ignore no-control-regex
  const clean = s.replace(/[\x00-\x1f\x7f]/g, "?");
  return clean.length > 120 ? `${clean.slice(0, 120)}…` : clean;
}
