/**
 * The parsing part of bundle discovery (`lib/image/discovery.ts`): which
 * referrers may hold a Sigstore bundle, and reading one referrer manifest
 * and its bundle layer through the {@linkcode ImageSource}, so checked
 * against its digest. Nothing here trusts the bundles: verify them with
 * `lib/bundle/verify_bundle.ts`.
 *
 * @module
 */

import { DzError, NetworkError, VerificationError } from "../errors/errors.ts";
import type { Manifest } from "../registry/client.ts";
import { parseDigest } from "../digest/digest.ts";
import { type Descriptor, OCI_MANIFEST } from "../oci/media_types.ts";
import { isRecord } from "../json/record.ts";
import type { ImageSource, ReferrerQuery } from "./source.ts";

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

/** Bundle referrers: image manifests whose listed artifact type, if any, is a bundle. */
export const BUNDLE_REFERRERS: ReferrerQuery = {
  accept: (d) =>
    d.mediaType === OCI_MANIFEST &&
    (d.artifactType === undefined || isBundleMediaType(d.artifactType)),
  what: "bundle referrers",
  cap: MAX_REFERRERS,
};

/** One referrer as read: its bundle, or why it is unusable. */
export type BundleRead =
  | {
    ok: true;
    /** e.g. `referrer sha256:0123456789ab…`. */
    origin: string;
    /** The parsed bundle JSON, exactly as stored (digest-checked bytes). */
    bundle: unknown;
    /** Digest of the referrer manifest that holds it. */
    manifestDigest: string;
  }
  | { ok: false; origin: string; error: VerificationError };

function invalid(origin: string, why: string): BundleRead {
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

/** A read failure of `origin`: an entry (tampered, malformed), or thrown (network, bugs). */
function readFailure(origin: string, what: string, e: unknown): BundleRead {
  if (e instanceof NetworkError || !(e instanceof DzError)) throw e;
  if (e instanceof VerificationError) return { ok: false, origin, error: e };
  return invalid(origin, `${what} (${(e as Error).message ?? e})`);
}

/**
 * Read one referrer manifest of `digest` and its bundle layer. `undefined`
 * when the manifest is not a Sigstore bundle artifact (or, with
 * `skipOtherSubjects`, is attached to another image).
 * @throws NetworkError
 */
export async function readBundleReferrer(
  source: ImageSource,
  digest: string,
  desc: Pick<Descriptor, "digest" | "size">,
  skipOtherSubjects: boolean,
): Promise<BundleRead | undefined> {
  const origin = `referrer ${shortDigest(desc.digest)}`;
  let manifest: Manifest;
  try {
    manifest = await source.manifest(desc.digest);
  } catch (e) {
    return readFailure(origin, "cannot be read", e);
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
    return readFailure(origin, "its bundle cannot be read", e);
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
