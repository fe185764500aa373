/**
 * Put together what the verified statement and the verified certificate say
 * about a build, refuse when they disagree, and hold the result against the
 * user's expectations (`--repository`, `--workflow`, `--branch`).
 *
 * @module
 */

import { refuse } from "../errors/errors.ts";
import type { CertificateClaims } from "./cert_claims.ts";
import { isTrustedBuilder } from "./policy.ts";
import type { PredicateClaims } from "./predicate.ts";

/** The checked facts of one build. */
export interface ProvenanceClaims {
  predicateType: string;
  /** The builder (= certificate SAN), a trusted slsa-github-generator workflow. */
  builder: string;
  /** `owner/repo`. */
  repository: string;
  /** Workflow file path. */
  workflow: string;
  /** Full git ref. */
  ref: string;
  /** Branch name when `ref` is `refs/heads/…`. */
  branch?: string;
  commit: string;
}

/** What the user requires. */
export interface ProvenanceExpectations {
  /** `owner/repo` (required). */
  repository: string;
  /** Workflow path, e.g. `.github/workflows/release.yml`. */
  workflow?: string;
  /** Branch name (`main`) or full ref (`refs/heads/main`). */
  branch?: string;
}

const HEADS = "refs/heads/";

/** The branch name of `refs/heads/NAME`, else undefined. */
function branchOf(ref: string): string | undefined {
  return ref.startsWith(HEADS) ? ref.slice(HEADS.length) : undefined;
}

/** How a ref is shown: the branch name, or the full ref (e.g. a tag) as such. */
export function displayRef(ref: string): string {
  return branchOf(ref) ?? ref;
}

function agree(what: string, fromPredicate: string, fromCert: string | undefined): void {
  if (fromCert === undefined) {
    refuse("PROVENANCE_CERTIFICATE", `the certificate names no ${what}`);
  }
  if (fromPredicate !== fromCert) {
    refuse(
      "PROVENANCE_INCONSISTENT",
      `the provenance names ${what} ${fromPredicate}, the certificate ${fromCert}`,
    );
  }
}

/**
 * Combine the statement's and certificate's claims; both must come from a
 * verified attestation. `signerIdentity` is the certificate SAN.
 * @throws VerificationError naming the disagreement
 */
export function combineClaims(
  pred: PredicateClaims,
  cert: CertificateClaims,
  signerIdentity: string | undefined,
): ProvenanceClaims {
  if (!isTrustedBuilder(signerIdentity)) {
    refuse(
      "PROVENANCE_BUILDER",
      `signed by ${
        signerIdentity ?? "an unknown identity"
      }, not slsa-github-generator's container builder`,
    );
  }
  if (pred.builderId !== signerIdentity) {
    refuse(
      "PROVENANCE_BUILDER",
      `the provenance names builder ${pred.builderId}, but it was signed by ${signerIdentity}`,
    );
  }
  agree("source repository", pred.repository, cert.repository);
  agree("git commit", pred.commit, cert.commit);
  agree("git ref", pred.ref, cert.ref);
  if (cert.workflow !== undefined) agree("workflow", pred.workflow, cert.workflow);
  const branch = branchOf(pred.ref);
  return {
    predicateType: pred.predicateType,
    builder: signerIdentity!,
    repository: pred.repository,
    workflow: pred.workflow,
    ref: pred.ref,
    ...(branch !== undefined ? { branch } : {}),
    commit: pred.commit,
  };
}

function normalizeWorkflow(p: string): string {
  return p.startsWith("./") ? p.slice(2) : p;
}

/**
 * Hold the claims against what the user requires.
 * @throws VerificationError naming the first failed check
 */
export function checkExpectations(c: ProvenanceClaims, e: ProvenanceExpectations): void {
  if (c.repository !== e.repository) {
    refuse(
      "PROVENANCE_REPOSITORY",
      `source repository is ${c.repository}, expected ${e.repository}`,
    );
  }
  if (e.workflow !== undefined && normalizeWorkflow(c.workflow) !== normalizeWorkflow(e.workflow)) {
    refuse("PROVENANCE_WORKFLOW", `workflow is ${c.workflow}, expected ${e.workflow}`);
  }
  if (e.branch !== undefined) {
    const wanted = e.branch.startsWith(HEADS) ? e.branch : `${HEADS}${e.branch}`;
    if (c.ref !== wanted) {
      refuse(
        "PROVENANCE_BRANCH",
        c.branch !== undefined
          ? `git branch is ${c.branch}, expected ${branchOf(wanted)}`
          : `git ref is ${c.ref}, not a branch; expected branch ${branchOf(wanted)}`,
      );
    }
  }
}
