/**
 * What makes an attestation acceptable SLSA Build Level 3 provenance for a
 * container image: signed keylessly through GitHub Actions' OIDC issuer by
 * slsa-github-generator's container workflow at a release tag, carrying a
 * SLSA provenance predicate (v0.2 or v1).
 *
 * @module
 */

import type { IdentityPolicy } from "../sigstore/identity.ts";

/** OIDC issuer of GitHub Actions workflow tokens. */
export const GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com";

/**
 * The trusted builder: slsa-github-generator's container workflow at a
 * release tag `vX.Y.Z` (anchored at both ends; `.` and `/` are literal).
 */
const TRUSTED_BUILDER_REGEX =
  "^https://github\\.com/slsa-framework/slsa-github-generator/\\.github/workflows/generator_container_slsa3\\.yml@refs/tags/v[0-9]+\\.[0-9]+\\.[0-9]+$";

const TRUSTED_BUILDER = new RegExp(TRUSTED_BUILDER_REGEX);

/** SLSA provenance v0.2 predicate type. */
export const SLSA_PROVENANCE_V02 = "https://slsa.dev/provenance/v0.2";
/** SLSA provenance v1 predicate type. */
const SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1";
/** Predicate types accepted as SLSA provenance. */
const SLSA_PREDICATE_TYPES: readonly string[] = [SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1];

/** in-toto statement payload type of a DSSE envelope. */
export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";

/** Is `id` (a certificate SAN or a predicate builder id) the trusted builder? */
export function isTrustedBuilder(id: string | undefined): boolean {
  return typeof id === "string" && TRUSTED_BUILDER.test(id);
}

/** Is `type` a SLSA provenance predicate type this tool reads? */
export function isSlsaProvenanceType(type: unknown): type is string {
  return typeof type === "string" && SLSA_PREDICATE_TYPES.includes(type);
}

/** The certificate identity policy handed to the signature verifier. */
export function provenanceIdentity(): IdentityPolicy {
  // The identity module anchors `regex` itself; pass the bare pattern.
  return {
    issuer: GITHUB_ACTIONS_ISSUER,
    subjectAlternativeName: { regex: TRUSTED_BUILDER_REGEX.slice(1, -1) },
  };
}
