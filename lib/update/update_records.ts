/**
 * The records an update writes into the data directory, in commit order:
 * the verified signatures and bundles, the rollback state, Dangerzone's
 * last log index, and last the installed record (the commit point).
 *
 * @module
 */

import { writeBundles, writeSignatures } from "../store/signature_store.ts";
import { type ImageState, writeImageState } from "../store/rollback_state.ts";
import { writeLastLogIndex } from "../store/last_log_index.ts";
import type { CosignSignature } from "../signatures/model.ts";
import { type InstalledRecord, writeInstalled } from "./installed.ts";

/** Where {@linkcode applyVerifiedUpdate} writes what it committed, each write atomic. */
export interface UpdateRecords {
  /** The verified cosign `.sig` signatures of `digest`. */
  writeSignatures(
    dataDir: string,
    keyId: string,
    digest: string,
    signatures: readonly CosignSignature[],
  ): Promise<unknown>;
  /** The verified Sigstore bundles of `digest`. */
  writeBundles(
    dataDir: string,
    keyId: string,
    digest: string,
    bundles: readonly unknown[],
  ): Promise<unknown>;
  /** The repository's rollback state. */
  writeImageState(dataDir: string, state: ImageState): Promise<unknown>;
  /** Dangerzone's `last_log_index`. */
  writeLastLogIndex(dataDir: string, value: number): Promise<unknown>;
  /** The installed record: the commit point. */
  writeInstalled(dataDir: string, record: InstalledRecord): Promise<unknown>;
}

/** The data directory's files (what every command uses). */
export const dataDirRecords: UpdateRecords = {
  writeSignatures,
  writeBundles,
  writeImageState,
  writeLastLogIndex,
  writeInstalled,
};
