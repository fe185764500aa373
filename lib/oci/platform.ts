/**
 * Platforms (`os/arch[/variant]`), the one home of their rules: parsing
 * `--platform` (trimmed, lower-cased), formatting, this machine's default,
 * matching (arm64 `v8` equals no variant) and picking an image index entry.
 *
 * @module
 */

import { DzError, UsageError } from "../errors/errors.ts";
import type { Descriptor, ImageIndex, Platform } from "./media_types.ts";

/** A platform to select. */
export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

const PART = /^[a-z0-9._-]+$/;

/** Parse `os/arch[/variant]`. @throws UsageError */
export function parsePlatform(text: string): PlatformSpec {
  const parts = text.trim().toLowerCase().split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !PART.test(p))) {
    throw new UsageError(`--platform '${text}' is not OS/ARCH[/VARIANT], e.g. linux/amd64`);
  }
  return { os: parts[0], architecture: parts[1], ...(parts[2] ? { variant: parts[2] } : {}) };
}

/**
 * The architecture as OCI (and Dangerzone) names it (`amd64`, `arm64`) for a
 * `Deno.build.arch` value; also `{arch}` in the default archive name
 * `dangerzone-{arch}.tar`.
 */
export function dangerzoneArch(arch: string): string {
  return arch === "x86_64" ? "amd64" : arch === "aarch64" ? "arm64" : arch;
}

/** Container images for this machine: linux on its CPU architecture. */
export function defaultPlatform(): PlatformSpec {
  return { os: "linux", architecture: dangerzoneArch(Deno.build.arch) };
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: PlatformSpec | Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

function normVariant(arch: string, variant: string | undefined): string | undefined {
  if (arch === "arm64" && (variant === undefined || variant === "v8")) return undefined;
  return variant;
}

/** Does an image of platform `have` serve `want` (arm64 `v8` equals no variant)? */
export function platformMatches(have: PlatformSpec | Platform, want: PlatformSpec): boolean {
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  const wantVariant = normVariant(want.architecture, want.variant);
  return wantVariant === undefined || normVariant(have.architecture, have.variant) === wantVariant;
}

/** A platform the image does not have: a usage error (exit 2), as the contract says. */
export function platformMissing(what: string, want: PlatformSpec, have: string[]): DzError {
  return new DzError(
    "PLATFORM_MISSING",
    `${what} has no ${formatPlatform(want)} image (it has: ${have.join(", ") || "none"})`,
    {
      hint: have.length ? `omit --platform, or pass --platform ${have[0]}` : "choose another image",
    },
  );
}

/**
 * The index entry for `want`: same OS and architecture, and the same
 * variant when one is asked for (arm64 `v8` equals no variant).
 * @throws DzError `PLATFORM_MISSING` (exit 2) when the index has no such platform.
 */
export function selectPlatform(index: ImageIndex, want: PlatformSpec): Descriptor {
  const candidates = index.manifests.filter((d) => {
    const p = d.platform;
    if (!p || !platformMatches(p, want)) return false;
    return d.annotations?.["vnd.docker.reference.type"] !== "attestation-manifest";
  });
  if (candidates.length === 0) {
    const have = index.manifests.filter((d) => d.platform).map((d) => formatPlatform(d.platform!));
    throw platformMissing("the signed image index", want, have);
  }
  // Prefer the entry without a variant (or the canonical one), then the first.
  return candidates.find((d) => !d.platform?.variant) ?? candidates[0];
}
