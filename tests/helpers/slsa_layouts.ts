/**
 * Push a `cosign save` layout from `../shared/testdata/slsa-github-generator/`
 * to a registry with the project's client: every blob, the platform
 * manifests, the image (under `tag`) and, unless told not to, its `.att`
 * manifest under cosign's `sha256-<hex>.att` tag.
 *
 * @module
 */

import type { RegistryClient } from "../../lib/registry/client.ts";
import { isIndexType } from "../../lib/oci/media_types.ts";

interface IndexJson {
  manifests: {
    digest: string;
    size: number;
    mediaType: string;
    annotations?: Record<string, string>;
  }[];
}

/** Push the layout at `dir`; returns the image digest and its `.att` descriptor. */
export async function pushSlsaLayout(
  client: RegistryClient,
  repo: string,
  dir: string,
  tag: string,
  options: { att?: boolean } = {},
): Promise<{ image: string; att: IndexJson["manifests"][number] }> {
  for await (const e of Deno.readDir(`${dir}/blobs/sha256`)) {
    const bytes = await Deno.readFile(`${dir}/blobs/sha256/${e.name}`);
    await client.uploadBlob(repo, { digest: `sha256:${e.name}`, size: bytes.byteLength }, bytes);
  }
  const index: IndexJson = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
  const blob = (d: string) => Deno.readFileSync(`${dir}/blobs/sha256/${d.slice(7)}`);
  let image = "";
  let att: IndexJson["manifests"][number] | undefined;
  for (const m of index.manifests) {
    const kind = m.annotations?.kind ?? "";
    if (kind.endsWith("/atts")) {
      att = m;
      continue;
    }
    if (!kind.endsWith("/image") && !kind.endsWith("/imageIndex")) continue;
    if (isIndexType(m.mediaType)) {
      for (const child of JSON.parse(new TextDecoder().decode(blob(m.digest))).manifests) {
        await client.putManifest(repo, child.digest, blob(child.digest), child.mediaType);
      }
    }
    image = await client.putManifest(repo, tag, blob(m.digest), m.mediaType);
  }
  if (!att) throw new Error(`${dir} has no atts entry`);
  if (options.att !== false) {
    await client.putManifest(repo, `sha256-${image.slice(7)}.att`, blob(att.digest), att.mediaType);
  }
  return { image, att };
}
