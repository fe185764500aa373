/**
 * Child process for `tests/data_dir_test.ts`: write every kind of
 * data-dir file with the stores' own writers (signatures, bundles, install
 * record, rollback state) while holding the lock, and print the lock's mode.
 *
 * Usage: `deno run -A tests/helpers/data_dir_writer.ts DATA_DIR SIGNATURES.json`
 *
 * @module
 */

import { writeBundles, writeSignatures } from "../../lib/store/signature_store.ts";
import { nextImageState, writeImageState } from "../../lib/store/rollback_state.ts";
import { writeLastLogIndex } from "../../lib/store/last_log_index.ts";
import { writeInstalled } from "../../lib/update/installed.ts";
import { withLock } from "../../lib/store/lock.ts";
import { parseCosignSignatureList } from "../../lib/signatures/cosign_list.ts";

const [data, signatures] = Deno.args;
const digest = `sha256:${"ab".repeat(32)}`;
const keyId = "c".repeat(64);
await withLock(`${data}/lock`, async () => {
  console.log(`lock ${((await Deno.stat(`${data}/lock`)).mode! & 0o777).toString(8)}`);
  await writeSignatures(
    data,
    keyId,
    digest,
    parseCosignSignatureList(await Deno.readTextFile(signatures)),
  );
  await writeBundles(data, keyId, digest, [{ mediaType: "application/vnd.dev.sigstore.bundle" }]);
  await writeInstalled(data, {
    version: 1,
    name: "example.com/a:latest",
    keyId,
    signedDigest: digest,
    platformDigest: digest,
    imageId: digest,
    runtime: "oci:/nowhere",
    manifest: "e30=",
    installedAt: new Date(0).toISOString(),
  });
  await writeImageState(
    data,
    nextImageState("example.com/a", undefined, {
      digest,
      positions: [{ logID: "d".repeat(64), logIndex: 1, integratedTime: 1 }],
    }),
  );
  await writeLastLogIndex(data, 1);
});
