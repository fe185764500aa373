/**
 * `sign --recursive` (cosign's flag, what Dangerzone's release runs): an
 * index is signed, and so is every manifest it lists (recursively for
 * nested indexes), each with its own signature and its own transparency-log
 * entry. Every manifest of the tree is fetched (its bytes checked against
 * its digest) before the first signature is made, so a missing or altered
 * child fails before anything is logged or pushed.
 *
 * @module
 */

import type { RegistryClient } from "../registry/client.ts";
import { looksLikeIndex, parseImageIndex } from "../oci/manifest.ts";

/** At most this many manifests are signed in one tree (an index of indexes cannot explode). */
const MAX_TREE_MANIFESTS = 256;

/**
 * The digests of `digest`'s manifest tree, the top first, each once:
 * the index, then every manifest it lists (depth first). A single-platform
 * manifest is a tree of one.
 */
async function manifestTree(
  client: RegistryClient,
  repository: string,
  digest: string,
): Promise<string[]> {
  const seen: string[] = [];
  const walk = async (d: string): Promise<void> => {
    if (seen.includes(d)) return;
    if (seen.length >= MAX_TREE_MANIFESTS) {
      throw new RangeError(`${digest} lists more than ${MAX_TREE_MANIFESTS} manifests`);
    }
    seen.push(d);
    // getManifest checks the bytes hash to `d`.
    const m = await client.getManifest(repository, d);
    if (!looksLikeIndex(m.mediaType, m.bytes)) return;
    for (const entry of parseImageIndex(m.bytes, `index ${d}`).manifests) await walk(entry.digest);
  };
  await walk(digest);
  return seen;
}

/** One signed manifest of the tree. */
export interface SignedManifest<T> {
  digest: string;
  result: T;
}

/**
 * Sign `digest` and, when `recursive`, every manifest of its tree
 * ({@linkcode manifestTree}), with `signOne` (one log entry each). Results
 * in tree order, the top first.
 */
export async function signManifests<T>(
  client: RegistryClient,
  repository: string,
  digest: string,
  recursive: boolean,
  signOne: (digest: string) => Promise<T>,
): Promise<SignedManifest<T>[]> {
  const digests = recursive ? await manifestTree(client, repository, digest) : [digest];
  const out: SignedManifest<T>[] = [];
  for (const d of digests) out.push({ digest: d, result: await signOne(d) });
  return out;
}
