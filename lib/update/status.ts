/**
 * What is installed under an image name, from this machine's records only
 * (no network, nothing verified again; `verify-local` does that): the
 * install record, the repository's rollback state (signed build time, log
 * positions) and whether the runtime still holds the image.
 *
 * @module
 */

import type { ContainerRuntime } from "../runtime/runtime.ts";
import { readImageState } from "../store/rollback_state.ts";
import { repositoryOf } from "../signatures/signed_identity.ts";
import { readInstalled } from "./installed.ts";

/** The installed state of one image name. */
export interface InstalledStatus {
  /** The name asked about, e.g. `ghcr.io/a/b:latest`. */
  image: string;
  installed: boolean;
  /** The signed digest installed. */
  digest?: string;
  /** The platform manifest installed. */
  platformDigest?: string;
  platform?: string;
  /** The image ID (config digest). */
  imageId?: string;
  /** The runtime it was installed into. */
  runtime?: string;
  /** ISO time of installation. */
  installedAt?: string;
  /** The signed build time (config `created`), from the rollback state. */
  created?: string;
  /** Earliest authenticated log positions of its signatures, per log. */
  tlog: { logID: string; logIndex: number; integratedTime: number }[];
  /** Does the runtime still hold it under the name, with the installed image ID? */
  present?: boolean;
  /** The image ID the runtime holds under the name now, when it differs. */
  runtimeImageId?: string;
}

/**
 * The status of `image`. `runtimeFor` opens the runtime recorded at install
 * time (or the one the user names).
 * @throws IoError when a record or the state is corrupt.
 */
export async function installedStatus(
  dataDir: string,
  image: string,
  runtimeFor: (recorded: string) => ContainerRuntime,
): Promise<InstalledStatus> {
  const record = await readInstalled(dataDir, image);
  if (!record) return { image, installed: false, tlog: [] };
  const state = await readImageState(dataDir, repositoryOf(image) ?? image);
  const same = state?.digest === record.signedDigest;
  const runtime = runtimeFor(record.runtime);
  const held = await runtime.inspect(image).catch(() => undefined);
  const present = held !== undefined &&
    (held.imageId === record.imageId || held.imageId === record.platformDigest);
  return {
    image,
    installed: true,
    digest: record.signedDigest,
    platformDigest: record.platformDigest,
    ...(record.platform ? { platform: record.platform } : {}),
    imageId: record.imageId,
    runtime: runtime.name,
    installedAt: record.installedAt,
    ...(same && state?.created ? { created: state.created } : {}),
    tlog: same
      ? Object.entries(state!.logs).map(([logID, p]) => ({
        logID,
        logIndex: p.logIndex,
        integratedTime: p.integratedTime,
      }))
      : [],
    present,
    ...(held && !present ? { runtimeImageId: held.imageId } : {}),
  };
}
