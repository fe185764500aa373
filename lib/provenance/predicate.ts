/**
 * Read the build facts out of a (verified) in-toto statement carrying SLSA
 * provenance: v0.2 (`predicate.builder.id`, `predicate.invocation.configSource`
 * {uri `git+https://github.com/OWNER/REPO@REF`, digest.sha1, entryPoint}) or
 * v1 (`runDetails.builder.id`, `buildDefinition.externalParameters.workflow`
 * {repository, ref, path}, `resolvedDependencies[].digest.gitCommit|sha1`).
 *
 * @module
 */

import { VerificationError } from "../errors/errors.ts";
import { isRecord } from "../json/record.ts";
import { isSlsaProvenanceType, SLSA_PROVENANCE_V02 } from "./policy.ts";

/** Build facts claimed by the provenance predicate. */
export interface PredicateClaims {
  predicateType: string;
  builderId: string;
  /** `owner/repo` (GitHub), or the source URI as is when not on GitHub. */
  repository: string;
  /** Full git ref, e.g. `refs/heads/main`. */
  ref: string;
  commit: string;
  /** Workflow file path, e.g. `.github/workflows/release.yml`. */
  workflow: string;
}

function refuse(message: string): never {
  throw new VerificationError("PROVENANCE_INVALID", message);
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string" || v === "") refuse(`the provenance names no ${what}`);
  return v;
}

const GIT_GITHUB = "git+https://github.com/";
const GITHUB = "https://github.com/";

/** `git+https://github.com/OWNER/REPO@REF` → {repository, ref}. */
function splitSourceUri(uri: string): { repository: string; ref: string } {
  const at = uri.lastIndexOf("@");
  if (at < 0) refuse(`the provenance source ${uri} names no git ref`);
  let repo = uri.slice(0, at);
  if (repo.startsWith(GIT_GITHUB)) repo = repo.slice(GIT_GITHUB.length);
  if (repo.endsWith(".git")) repo = repo.slice(0, -4);
  return { repository: repo, ref: uri.slice(at + 1) };
}

function v02(pred: Record<string, unknown>, type: string): PredicateClaims {
  const builder = isRecord(pred.builder) ? pred.builder : {};
  const invocation = isRecord(pred.invocation) ? pred.invocation : {};
  const cs = isRecord(invocation.configSource) ? invocation.configSource : {};
  const { repository, ref } = splitSourceUri(str(cs.uri, "source repository"));
  const digest = isRecord(cs.digest) ? cs.digest : {};
  return {
    predicateType: type,
    builderId: str(builder.id, "builder"),
    repository,
    ref,
    commit: str(digest.sha1, "git commit"),
    workflow: str(cs.entryPoint, "workflow"),
  };
}

function v1(pred: Record<string, unknown>, type: string): PredicateClaims {
  const run = isRecord(pred.runDetails) ? pred.runDetails : {};
  const builder = isRecord(run.builder) ? run.builder : {};
  const def = isRecord(pred.buildDefinition) ? pred.buildDefinition : {};
  const ext = isRecord(def.externalParameters) ? def.externalParameters : {};
  const wf = isRecord(ext.workflow) ? ext.workflow : {};
  let repository = str(wf.repository, "source repository");
  if (repository.startsWith(GITHUB)) repository = repository.slice(GITHUB.length);
  const ref = str(wf.ref, "git ref");
  const deps = Array.isArray(def.resolvedDependencies) ? def.resolvedDependencies : [];
  const commits = new Set<string>();
  for (const d of deps) {
    if (!isRecord(d) || typeof d.uri !== "string" || !isRecord(d.digest)) continue;
    const src = splitSourceUri(d.uri);
    if (src.repository !== repository) continue;
    const c = d.digest.gitCommit ?? d.digest.sha1;
    if (typeof c === "string") commits.add(c);
  }
  if (commits.size > 1) refuse("the provenance names more than one source commit");
  return {
    predicateType: type,
    builderId: str(builder.id, "builder"),
    repository,
    ref,
    commit: str([...commits][0], "git commit"),
    workflow: str(wf.path, "workflow"),
  };
}

/**
 * The build facts of a SLSA provenance statement.
 * @throws VerificationError when it is not SLSA provenance or lacks a fact
 */
export function predicateClaims(statement: unknown): PredicateClaims {
  if (!isRecord(statement)) refuse("the attestation payload is not an in-toto statement");
  const type = statement.predicateType;
  if (!isSlsaProvenanceType(type)) {
    throw new VerificationError(
      "PROVENANCE_TYPE",
      `the attestation's predicate type is ${JSON.stringify(type)}, not SLSA provenance`,
    );
  }
  const pred = isRecord(statement.predicate) ? statement.predicate : {};
  return type === SLSA_PROVENANCE_V02 ? v02(pred, type) : v1(pred, type);
}
