/**
 * A crash of the update pipeline at one of its commit steps, simulated
 * through the records it writes: the data directory's real files, except
 * that the first write after the chosen point throws, as if the process
 * had died there (nothing of that write or any later one happens).
 *
 * @module
 */

import { dataDirRecords, type UpdateRecords } from "../../lib/update/update_records.ts";

/**
 * Where the process dies: after the runtime holds the image, after the
 * signatures are stored, after the rollback state (and Dangerzone's log
 * index) advanced, before the installed record is written.
 */
export type CrashPoint = "after-install" | "after-signatures" | "after-rollback";

/** The data directory's records, dying at `at` (the error says `simulated crash <at>`). */
export function crashingRecords(at: CrashPoint): UpdateRecords {
  const die = () => Promise.reject(new Error(`simulated crash ${at}`));
  switch (at) {
    case "after-install":
      return { ...dataDirRecords, writeSignatures: die, writeBundles: die };
    case "after-signatures":
      return { ...dataDirRecords, writeImageState: die };
    case "after-rollback":
      return { ...dataDirRecords, writeInstalled: die };
  }
}
