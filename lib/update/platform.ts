/**
 * Platforms (`os/arch[/variant]`): parsing `--platform`, this machine's
 * default, and picking an image index entry.
 *
 * @module
 */

import { DzError, EXIT_USAGE, UsageError } from "../errors/errors.ts";
import type { Descriptor, ImageIndex, Platform } from "../oci/media_types.ts";

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

/** Container images for this machine: linux on its CPU architecture. */
export function defaultPlatform(): PlatformSpec {
  const arch: Record<string, string> = { x86_64: "amd64", aarch64: "arm64" };
  return { os: "linux", architecture: arch[Deno.build.arch] ?? Deno.build.arch };
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
    EXIT_USAGE,
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
