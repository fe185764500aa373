/**
 * The GitHub Actions facts Fulcio writes into a workflow's signing
 * certificate (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md):
 * the deprecated raw-string extensions `1.3.6.1.4.1.57264.1.3` (commit),
 * `.5` (repository `owner/repo`), `.6` (git ref), and their DER UTF8String
 * successors `.12` (source repository URI), `.13` (source commit), `.14`
 * (source ref), `.18` (build config URI: `https://github.com/OWNER/REPO/PATH@REF`).
 * Parsed with `@sigstore/core`'s X.509 / ASN.1 reader. Only ever call this
 * on a certificate that has been verified.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { ASN1Obj, X509Certificate } from "../npm/sigstore_core.ts";
import { VerificationError } from "../errors/errors.ts";

const FULCIO = "1.3.6.1.4.1.57264.1";
const UTF8_STRING_TAG = 12;

/** GitHub facts from a Fulcio certificate; a field is absent when the certificate lacks it. */
export interface CertificateClaims {
  /** `owner/repo`. */
  repository?: string;
  /** Full git commit SHA. */
  commit?: string;
  /** Full git ref, e.g. `refs/heads/main`. */
  ref?: string;
  /** Workflow file path of the build config, e.g. `.github/workflows/release.yml`. */
  workflow?: string;
}

function conflict(what: string, a: string, b: string): never {
  throw new VerificationError(
    "PROVENANCE_CERTIFICATE_INCONSISTENT",
    `the certificate names two ${what}s: ${a} and ${b}`,
  );
}

function pick(what: string, a: string | undefined, b: string | undefined): string | undefined {
  if (a !== undefined && b !== undefined && a !== b) conflict(what, a, b);
  return a ?? b;
}

const GITHUB = "https://github.com/";

function repoFromUri(uri: string | undefined): string | undefined {
  if (uri === undefined) return undefined;
  if (!uri.startsWith(GITHUB)) return uri; // kept as is: it will not match OWNER/REPO
  return uri.slice(GITHUB.length);
}

/** `https://github.com/OWNER/REPO/PATH@REF` → PATH, given `OWNER/REPO`. */
function workflowFromBuildConfig(uri: string | undefined, repo: string | undefined) {
  if (uri === undefined || repo === undefined) return undefined;
  const prefix = `${GITHUB}${repo}/`;
  const at = uri.lastIndexOf("@");
  if (!uri.startsWith(prefix) || at < prefix.length) return undefined;
  return uri.slice(prefix.length, at);
}

/**
 * Read the GitHub claims of a (verified) Fulcio certificate, DER bytes.
 * Where the old and the new extension both exist they must agree.
 * @throws VerificationError when they disagree
 */
export function certificateClaims(der: Uint8Array): CertificateClaims {
  const cert = X509Certificate.parse(Buffer.from(der));
  const raw = (n: number) => cert.extension(`${FULCIO}.${n}`)?.value.toString("utf8");
  const der8 = (n: number) => {
    const v = cert.extension(`${FULCIO}.${n}`)?.value;
    if (v === undefined) return undefined;
    try {
      const obj = ASN1Obj.parseBuffer(Buffer.from(v));
      return obj.tag.number === UTF8_STRING_TAG ? obj.value.toString("utf8") : undefined;
    } catch {
      return undefined;
    }
  };
  const repository = pick("source repositorie", raw(5), repoFromUri(der8(12)));
  const commit = pick("commit", raw(3), der8(13));
  const ref = pick("git ref", raw(6), der8(14));
  const workflow = workflowFromBuildConfig(der8(18), repository);
  return {
    ...(repository !== undefined ? { repository } : {}),
    ...(commit !== undefined ? { commit } : {}),
    ...(ref !== undefined ? { ref } : {}),
    ...(workflow !== undefined ? { workflow } : {}),
  };
}
