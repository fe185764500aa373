/**
 * The image an update replaced, taken out of the runtime.
 *
 * @module
 */

import { readInstalled } from "./installed.ts";
import type { InstalledRecord } from "./installed.ts";
import type { UpdateRequest } from "./update_request.ts";

/**
 * After the install is committed: remove the image installed before under
 * this name from the runtime (as Dangerzone does), unless `keepOld`. Its
 * names in this repository are taken off and the image removed if nothing
 * else names it (never forced). A failure is a warning line: the update stands.
 */
export async function removeOlderImage(
  req: UpdateRequest,
  repository: string,
  record: InstalledRecord | undefined,
  newImageId: string,
): Promise<string[]> {
  if (req.keepOld || !record || record.imageId === newImageId) return [];
  if (record.runtime !== req.runtime.name) return [];
  try {
    // A name with its own install record of that image (another tag we installed) keeps it.
    const keep = async (name: string) =>
      name !== req.imageName &&
      (await readInstalled(req.dataDir, name).catch(() => undefined))?.imageId === record.imageId;
    const r = await req.runtime.removeImage(record.imageId, repository, keep);
    return r.removed ? [record.imageId] : [];
  } catch (e) {
    (req.warn ?? ((l) => console.error(l)))(
      `warning: could not remove the older image ${record.imageId} from ${req.runtime.name}: ${
        (e as Error).message ?? e
      } (remove it by hand, or pass --keep-old)`,
    );
    return [];
  }
}
