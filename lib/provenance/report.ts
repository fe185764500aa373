/**
 * How a verified provenance is shown: the seed's block (see `cli.md`) or a
 * JSON document.
 *
 * @module
 */

import type { ImageReference } from "../registry/reference.ts";
import { displayRef } from "./claims.ts";
import type { ProvenanceResult } from "./verify_provenance.ts";

/**
 * The image as shown: `<registry>/<repo>:<tag>@sha256:<digest>` (tag
 * omitted when unknown); `oci:DIR[:tag]@sha256:…` for a layout;
 * `archive:FILE@sha256:…` for an archive.
 */
export function displayImage(ref: ImageReference, digest: string): string {
  switch (ref.kind) {
    case "registry":
      return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ""}@${digest}`;
    case "oci":
      return `oci:${ref.path}${ref.tag ? `:${ref.tag}` : ""}@${digest}`;
    case "archive":
      return `archive:${ref.path}@${digest}`;
  }
}

/** The seed's success block (no trailing newline). */
export function formatProvenanceText(image: string, r: ProvenanceResult): string {
  return [
    "\u{1F389} Successfully verified image",
    `'${image}'`,
    "and its associated claims:",
    "- \u2705 SLSA Level 3 provenance",
    `- \u2705 GitHub repo: ${r.claims.repository}`,
    `- \u2705 GitHub actions workflow: ${r.claims.workflow}`,
    `- \u2705 Git branch: ${displayRef(r.claims.ref)}`,
    `- \u2705 Git commit: ${r.claims.commit}`,
  ].join("\n");
}

/** The `--json` document. */
export function provenanceJson(image: string, r: ProvenanceResult): Record<string, unknown> {
  return {
    ok: true,
    verified: true,
    image,
    digest: r.digest,
    slsaLevel: 3,
    predicateType: r.claims.predicateType,
    builder: r.claims.builder,
    issuer: r.issuer,
    repository: r.claims.repository,
    workflow: r.claims.workflow,
    ref: r.claims.ref,
    branch: r.claims.branch ?? null,
    commit: r.claims.commit,
    tlog: r.tlog ? [r.tlog] : [],
    attestation: r.origin,
    ...(r.platforms ? { platforms: r.platforms } : {}),
  };
}
