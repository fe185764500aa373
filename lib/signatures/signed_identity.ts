/**
 * The signed identity of an image signature: cosign's simple-signing payload
 * names the repository it was signed for (`critical.identity.docker-reference`).
 * A valid signature of ANOTHER repository by the same key must not install
 * under this one (`../shared/cli.md`, `--signed-identity`).
 *
 * @module
 */

import { DEFAULT_IMAGE, HISTORICAL_REPOSITORIES } from "../config/dangerzone_image.ts";
import { parseRegistryReference } from "../registry/reference.ts";

/**
 * `registry/repository` of a docker reference (tag and digest dropped,
 * registry normalised), or undefined when it does not parse.
 */
export function repositoryOf(ref: string): string | undefined {
  try {
    const r = parseRegistryReference(ref);
    return `${r.registry}/${r.repository}`;
  } catch {
    return undefined;
  }
}

/**
 * The repositories a signature may name to install `repository`: itself,
 * every `--signed-identity`, and for Dangerzone's image its historical names.
 */
export function acceptedIdentities(
  repository: string,
  extra: readonly string[] = [],
): Set<string> {
  const out = new Set<string>([repositoryOf(repository) ?? repository]);
  for (const e of extra) out.add(repositoryOf(e) ?? e);
  if (out.has(repositoryOf(DEFAULT_IMAGE)!)) {
    for (const h of HISTORICAL_REPOSITORIES) out.add(h);
  }
  return out;
}

/** Is `signed` (a payload's docker-reference; undefined when it names none) one of `accepted`? */
export function identityAccepted(
  signed: string | undefined,
  accepted: ReadonlySet<string>,
): boolean {
  if (signed === undefined) return false;
  const repo = repositoryOf(signed);
  return repo !== undefined && accepted.has(repo);
}
