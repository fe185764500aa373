/**
 * Find the Sigstore bundles attached to an image as OCI 1.1 artifacts, the
 * way cosign v3 (`--new-bundle-format`) and GitHub's
 * `actions/attest-build-provenance` attach them (cosign's `specs/BUNDLE_SPEC.md`):
 * an image manifest with `artifactType` a bundle media type, an empty config,
 * one layer of that media type holding the bundle JSON, and `subject` naming
 * the image. They are listed by the referrers API or its `sha256-<hex>`
 * fallback tag (registry), or by the layout's index (`oci:DIR`, archives).
 *
 * Every manifest and blob is read through the {@linkcode ImageSource}, so
 * checked against its digest. Nothing here trusts the bundles: verify them
 * with `lib/bundle/verify_bundle.ts`.
 *
 * @module
 */

import { DzError, NetworkError, VerificationError } from "../errors/errors.ts";
import type { Manifest } from "../registry/client.ts";
import { referrersTag } from "../registry/client.ts";
import { parseDigest } from "../digest/digest.ts";
import { type Descriptor, isIndexType, OCI_MANIFEST } from "../oci/media_types.ts";
import { isRecord } from "../json/record.ts";
import { distinct, refuseOverCap } from "../registry/limits.ts";
import { type ImageSource, LayoutSource, RegistrySource } from "./source.ts";

/** Media types of Sigstore bundles (v0.3 in both spellings, and the older v0.1 / v0.2). */
export const BUNDLE_MEDIA_TYPES: readonly string[] = [
  "application/vnd.dev.sigstore.bundle.v0.3+json",
  "application/vnd.dev.sigstore.bundle+json;version=0.3",
  "application/vnd.dev.sigstore.bundle+json;version=0.2",
  "application/vnd.dev.sigstore.bundle+json;version=0.1",
];

/** Largest bundle read (a provenance bundle with its certificate is tens of KiB). */
export const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;

/**
 * At most this many distinct bundle referrers / layout entries per image;
 * more is refused, never silently truncated (it could hide the good one).
 */
export const MAX_REFERRERS = 64;

/** Is `type` a Sigstore bundle media type (case and spaces around `;` ignored)? */
export function isBundleMediaType(type: unknown): type is string {
  if (typeof type !== "string") return false;
  const t = type.toLowerCase().split(";").map((p) => p.trim()).join(";");
  return BUNDLE_MEDIA_TYPES.includes(t);
}

/** One bundle as found (unverified). */
export type FoundBundle =
  | {
    ok: true;
    /** Where it came from, e.g. `referrer sha256:… (bundle layer)`. */
    origin: string;
    /** The parsed bundle JSON, exactly as stored (digest-checked bytes). */
    bundle: unknown;
    /** Digest of the referrer manifest that holds it. */
    manifestDigest: string;
  }
  | { ok: false; origin: string; error: VerificationError };

function invalid(origin: string, why: string): FoundBundle {
  return {
    ok: false,
    origin,
    error: new VerificationError("BUNDLE_INVALID", `${origin}: ${why}`),
  };
}

function shortDigest(d: string): string {
  return d.length > 19 ? `${d.slice(0, 19)}…` : d;
}

/** The artifact type of a manifest: `artifactType`, else its config media type. */
function artifactTypeOf(m: Record<string, unknown>): unknown {
  if (m.artifactType !== undefined) return m.artifactType;
  return isRecord(m.config) ? m.config.mediaType : undefined;
}

/**
 * Read one referrer manifest and its bundle layer. `undefined` when the
 * manifest is not a Sigstore bundle artifact (or, with `skipOtherSubjects`,
 * is attached to another image).
 */
async function readReferrer(
  source: ImageSource,
  digest: string,
  desc: Pick<Descriptor, "digest" | "size">,
  skipOtherSubjects: boolean,
): Promise<FoundBundle | undefined> {
  const origin = `referrer ${shortDigest(desc.digest)}`;
  let manifest: Manifest;
  try {
    manifest = await source.manifest(desc.digest);
  } catch (e) {
    if (e instanceof NetworkError || !(e instanceof DzError)) throw e;
    if (e instanceof VerificationError) return { ok: false, origin, error: e };
    return invalid(origin, `cannot be read (${(e as Error).message ?? e})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(manifest.bytes));
  } catch {
    return invalid(origin, "the manifest is not JSON");
  }
  if (!isRecord(doc) || !isBundleMediaType(artifactTypeOf(doc))) return undefined;
  const subject = isRecord(doc.subject) ? doc.subject.digest : undefined;
  if (subject !== digest) {
    if (skipOtherSubjects) return undefined;
    return invalid(origin, `is attached to ${String(subject ?? "nothing")}, not ${digest}`);
  }
  const layers = (Array.isArray(doc.layers) ? doc.layers : []).filter((l) =>
    isRecord(l) && isBundleMediaType(l.mediaType)
  ) as Record<string, unknown>[];
  if (layers.length !== 1) {
    return invalid(origin, `holds ${layers.length} bundle layers, expected exactly one`);
  }
  const layer = layers[0];
  let layerDigest: string;
  try {
    layerDigest = parseDigest(String(layer.digest));
  } catch {
    return invalid(origin, "its bundle layer has no valid digest");
  }
  const size = layer.size;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    return invalid(origin, "its bundle layer has no valid size");
  }
  if (size > MAX_BUNDLE_BYTES) {
    return invalid(
      origin,
      `its bundle is ${size} bytes, more than the ${MAX_BUNDLE_BYTES} allowed`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await source.blobBytes({ digest: layerDigest, size });
  } catch (e) {
    if (e instanceof NetworkError || !(e instanceof DzError)) throw e;
    if (e instanceof VerificationError) return { ok: false, origin, error: e };
    return invalid(origin, `its bundle cannot be read (${(e as Error).message ?? e})`);
  }
  try {
    return {
      ok: true,
      origin,
      bundle: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)),
      manifestDigest: manifest.digest,
    };
  } catch {
    return invalid(origin, "its bundle is not JSON");
  }
}

/**
 * Candidate descriptors: image manifests whose listed artifact type, if
 * any, is a bundle; each digest once. More than {@linkcode MAX_REFERRERS}
 * is refused (`where` names the listing).
 */
function candidates(
  list: unknown,
  where: string,
  exclude?: string,
  cap: number = MAX_REFERRERS,
): Descriptor[] {
  if (!Array.isArray(list)) return [];
  const found = distinct(
    (list as unknown[]).filter((d): d is Descriptor =>
      isRecord(d) && typeof d.digest === "string" && typeof d.size === "number" &&
      d.digest !== exclude &&
      d.mediaType === OCI_MANIFEST &&
      (d.artifactType === undefined || isBundleMediaType(d.artifactType))
    ),
    (d) => d.digest,
  );
  refuseOverCap(found.length, cap, where, "distinct bundle referrers");
  return found;
}

async function fromRegistry(source: RegistrySource, digest: string): Promise<FoundBundle[]> {
  // No artifactType filter: several bundle media types are accepted, and a
  // registry may not filter anyway. Other artifact types are dropped below.
  const listed = await source.client.referrers(source.repository, digest);
  const out: FoundBundle[] = [];
  for (const d of candidates(listed, `${source.name}: the referrers of ${shortDigest(digest)}`)) {
    const found = await readReferrer(source, digest, d, false);
    if (found) out.push(found);
  }
  return out;
}

async function fromLayout(source: LayoutSource, digest: string): Promise<FoundBundle[]> {
  const descs = new Map<string, Descriptor>();
  // A referrers index stored under the fallback tag (as pushed to a registry).
  const tagged = await source.manifestByTag(referrersTag(digest));
  if (tagged && isIndexType(tagged.mediaType)) {
    let index: unknown;
    try {
      index = JSON.parse(new TextDecoder().decode(tagged.bytes));
    } catch {
      // not an index: nothing listed there
    }
    const where = `${source.name}: the referrers index ${referrersTag(digest)}`;
    for (const d of candidates(isRecord(index) ? index.manifests : [], where)) {
      descs.set(d.digest, d);
    }
  }
  // Artifacts listed directly in index.json whose subject is the image. A
  // local layout (the `oci:` store) also lists every image it holds: the
  // first entries are looked at, as before (archive limits bound the rest).
  const local = (await source.layout.index()).manifests;
  for (const d of candidates(local, source.name, digest, Infinity)) {
    if (descs.size >= MAX_REFERRERS) break;
    descs.set(d.digest, d);
  }
  const out: FoundBundle[] = [];
  for (const d of descs.values()) {
    const found = await readReferrer(source, digest, d, true);
    if (found) out.push(found);
  }
  return out;
}

/**
 * The Sigstore bundles attached to `digest` (unverified), each with its
 * origin; an unreadable or malformed one is an `ok: false` entry, so one bad
 * referrer does not hide a good one. Referrers of other artifact types are
 * ignored. Empty when there are none (or the source cannot hold any).
 * @throws NetworkError when the registry cannot be reached
 */
export async function fetchSigstoreBundles(
  source: ImageSource,
  digest: string,
): Promise<FoundBundle[]> {
  const d = parseDigest(digest);
  if (source instanceof RegistrySource) return await fromRegistry(source, d);
  if (source instanceof LayoutSource) return await fromLayout(source, d);
  return [];
}
