/**
 * Certificate identity policies for keyless (Fulcio) signatures. The
 * verifier's `subjectAlternativeName` check is an UNANCHORED regex match, so
 * an identity handed to it as a plain string would match any SAN containing
 * it. Everything handed over from here is an anchored RegExp: exact
 * identities are escaped, user regexes are wrapped in `^(?:…)$`.
 *
 * @module
 */

import type { VerificationPolicy } from "../npm/sigstore_verify.ts";
import { UsageError } from "../errors/errors.ts";

/** Who must have signed (keyless). */
export interface IdentityPolicy {
  /** Exact SAN (string), or `{ regex }` matched against the whole SAN. */
  subjectAlternativeName: string | { regex: string };
  /** Exact OIDC issuer (Fulcio issuer extension), or `{ regex }` matched against all of it. */
  issuer: string | { regex: string };
}

/** Escape every regex metacharacter of `s`. */
function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

/** A RegExp matching exactly `s`, nothing more. */
function exactRegExp(s: string): RegExp {
  return new RegExp(`^${escapeRegExp(s)}$`);
}

/**
 * A user regex anchored at both ends.
 * @throws UsageError when it does not compile.
 */
function anchoredRegExp(source: string): RegExp {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch (cause) {
    throw new UsageError(`invalid identity regular expression: ${source}`, { cause });
  }
}

/** The `@sigstore/verify` policy for an {@linkcode IdentityPolicy}. */
export function toVerificationPolicy(p: IdentityPolicy): VerificationPolicy {
  if (!p.issuer) throw new UsageError("an identity policy needs an OIDC issuer");
  const san = typeof p.subjectAlternativeName === "string"
    ? exactRegExp(p.subjectAlternativeName)
    : anchoredRegExp(p.subjectAlternativeName.regex);
  if (typeof p.issuer !== "string") {
    anchoredRegExp(p.issuer.regex); // refuse a bad regex before verifying
    // The verifier compares issuers exactly: a regex issuer is checked by issuerAccepted.
    return { subjectAlternativeName: san };
  }
  return { subjectAlternativeName: san, extensions: { issuer: p.issuer } };
}

/** Does the verified certificate's `issuer` satisfy the policy (exact, or the anchored regex)? */
export function issuerAccepted(p: IdentityPolicy, issuer: string | undefined): boolean {
  if (issuer === undefined) return false;
  return typeof p.issuer === "string"
    ? issuer === p.issuer
    : anchoredRegExp(p.issuer.regex).test(issuer);
}
