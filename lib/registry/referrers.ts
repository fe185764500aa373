/**
 * The OCI 1.1 referrers of a manifest, through the API or its
 * `sha256-<hex>` fallback tag.
 *
 * @module
 */

import { parseDigest } from "../digest/digest.ts";
import { type Descriptor, type ImageIndex, OCI_INDEX } from "../oci/media_types.ts";
import type { RegistryTransport } from "./transport.ts";
import { distinct, MAX_INDEX_ENTRIES, refuseOverCap } from "./limits.ts";
import { referrersTag } from "./cosign_tags.ts";

/** What {@linkcode listReferrers} needs of the registry client. */
export interface ReferrersClient {
  readonly transport: RegistryTransport;
  readonly registry: string;
  /** Read a small document from `res`, bounded in size and time. */
  document(res: Response, limit: number, what: string): Promise<Uint8Array>;
  headManifest(repository: string, reference: string): Promise<Descriptor | undefined>;
  getManifest(
    repository: string,
    reference: string,
    accept?: string[],
  ): Promise<{ bytes: Uint8Array }>;
}

function shortDigest(d: string): string {
  return d.length > 19 ? `${d.slice(0, 19)}…` : d;
}

/**
 * Referrers of a manifest (OCI 1.1): `GET /v2/<name>/referrers/<digest>`,
 * falling back to the `sha256-<hex>` tag schema when the API is absent.
 * Returns the index's descriptors (filtered by `artifactType` if given).
 */
export async function listReferrers(
  client: ReferrersClient,
  repository: string,
  digest: string,
  artifactType: string | undefined,
  maxDocumentBytes: number,
): Promise<Descriptor[]> {
  const q = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : "";
  const res = await client.transport.request({
    path: `/v2/${repository}/referrers/${parseDigest(digest)}${q}`,
    headers: { accept: OCI_INDEX },
    scopes: [`repository:${repository}:pull`],
    accept: [200, 404, 400, 405],
  });
  let index: ImageIndex | undefined;
  const type = (res.headers.get("content-type") ?? "").split(";")[0].trim();
  if (res.status === 200 && type === OCI_INDEX) {
    index = JSON.parse(
      new TextDecoder().decode(await client.document(res, maxDocumentBytes, "referrers index")),
    );
  } else {
    await res.body?.cancel();
    const tag = referrersTag(digest);
    if (await client.headManifest(repository, tag) === undefined) return [];
    const m = await client.getManifest(repository, tag, [OCI_INDEX]);
    index = JSON.parse(new TextDecoder().decode(m.bytes));
  }
  const listed = Array.isArray(index?.manifests) ? index!.manifests : [];
  // The same referrer listed again is one referrer (an amplification otherwise).
  const manifests = distinct(
    listed.filter((d) => d !== null && typeof d === "object" && typeof d.digest === "string"),
    (d) => d.digest,
  );
  refuseOverCap(
    manifests.length,
    MAX_INDEX_ENTRIES,
    `${client.registry}/${repository}: the referrers of ${shortDigest(digest)}`,
    "distinct manifests",
  );
  return artifactType ? manifests.filter((d) => d.artifactType === artifactType) : manifests;
}
