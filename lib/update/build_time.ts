/**
 * The signed build time of an image: its config's `created`, covered by the
 * signature through signed digest → manifest → config digest. It orders
 * images first in rollback protection (`../shared/cli.md`, rule 2).
 *
 * @module
 */

import { VerificationError } from "../errors/errors.ts";
import type { ImageSource } from "../image/source.ts";
import type { Manifest } from "../registry/client.ts";
import { parseImageManifest } from "../oci/manifest.ts";

/** Largest image config read to learn its build time. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/**
 * `created` of the config `manifest` names, as ms since the epoch; undefined
 * when the config has none or it is not a date.
 * @throws VerificationError when the config is larger than {@linkcode MAX_CONFIG_BYTES}
 *   or does not match its digest; ManifestFormatError for a malformed manifest.
 */
export async function signedBuildTime(
  source: ImageSource,
  manifest: Manifest,
): Promise<number | undefined> {
  const created = (await signedConfig(source, manifest))?.created;
  if (typeof created !== "string") return undefined;
  const ms = Date.parse(created);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The `os` / `architecture` / `variant` of the config `manifest` names
 * (undefined when the config does not say).
 */
export async function signedPlatform(
  source: ImageSource,
  manifest: Manifest,
): Promise<{ os: string; architecture: string; variant?: string } | undefined> {
  const c = await signedConfig(source, manifest);
  if (typeof c?.os !== "string" || typeof c.architecture !== "string") return undefined;
  return {
    os: c.os,
    architecture: c.architecture,
    ...(typeof c.variant === "string" ? { variant: c.variant } : {}),
  };
}

/** The parsed config (checked against its digest and size), or undefined when not JSON. */
async function signedConfig(
  source: ImageSource,
  manifest: Manifest,
): Promise<Record<string, unknown> | undefined> {
  const config = parseImageManifest(manifest.bytes, `manifest ${manifest.digest}`).config;
  if (!Number.isSafeInteger(config.size) || config.size < 0 || config.size > MAX_CONFIG_BYTES) {
    throw new VerificationError(
      "CONFIG_TOO_LARGE",
      `the image config of ${manifest.digest} claims ${config.size} bytes (at most ${MAX_CONFIG_BYTES})`,
      { hint: "this is not a usable container image; do not install it" },
    );
  }
  const bytes = await source.blobBytes(config);
  try {
    const doc = JSON.parse(new TextDecoder().decode(bytes));
    return typeof doc === "object" && doc !== null ? doc : undefined;
  } catch {
    return undefined;
  }
}
