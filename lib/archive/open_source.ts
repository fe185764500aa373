/**
 * The source a user's reference names: a registry, an OCI layout, or an
 * archive (checked and unpacked first). It lives in `archive/`, the highest
 * of the areas it picks from (archive sources are built on `image/`).
 *
 * @module
 */

import type { GlobalOptions } from "../config/options.ts";
import { type ImageReference, parseImageReference } from "../registry/reference.ts";
import { clientFor } from "../registry/from_options.ts";
import { OciLayout } from "../oci/layout.ts";
import { type ImageSource, LayoutSource, RegistrySource } from "../image/source.ts";
import { openArchive } from "./read.ts";

/** Open the source a user's reference names. */
export async function openSource(
  input: string | ImageReference,
  global: GlobalOptions,
): Promise<ImageSource> {
  const ref = typeof input === "string" ? parseImageReference(input) : input;
  switch (ref.kind) {
    case "registry":
      return new RegistrySource(clientFor(ref.registry, global), ref.repository, ref);
    case "oci":
      return new LayoutSource(await OciLayout.open(ref.path), ref);
    case "archive":
      // Checked (entry names, types, blob digests, index agreement) and unpacked first.
      return (await openArchive(ref.path, global.dataDir)).source;
  }
}
