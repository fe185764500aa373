/**
 * Dangerzone's `LAST_KNOWN_LOG_INDEX` floor on a fresh installation, with
 * the real Dangerzone signatures (public-good Rekor, log indexes ~1.6e8,
 * below the floor 2023689270): refused before anything is downloaded, for
 * Dangerzone's default image too.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { testdata, testdataOrSkip } from "../../tests/helpers/testdata.ts";
import { RollbackError } from "../errors/errors.ts";
import { DEFAULT_IMAGE } from "../config/dangerzone_image.ts";
import { LayoutSource } from "../image/source.ts";
import { OciLayout } from "../oci/layout.ts";
import { OciStoreRuntime } from "../runtime/oci_store.ts";
import { parseCosignSignatureList } from "../signatures/cosign_list.ts";
import { loadTrustedKey } from "../trust/trusted_key.ts";
import { publicGoodTrustedRoot } from "../trust/trusted_root.ts";
import { applyVerifiedUpdate } from "./apply.ts";

const KEY_DIR = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";
const DIGEST = "19e8eacd75879d05f6621c2ea8dd955e68ee3e07b41b9d53f4c8cc9929a68a67";

Deno.test({
  name: "a fresh install applies Dangerzone's LAST_KNOWN_LOG_INDEX floor (public-good log)",
  ignore: testdataOrSkip("LAST_KNOWN_LOG_INDEX floor"),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const text = await Deno.readTextFile(
        testdata("dangerzone", "signatures", "valid", KEY_DIR, `${DIGEST}.json`),
      );
      const signatures = parseCosignSignatureList(text);
      const key = await loadTrustedKey(testdata("dangerzone", "test.pub.key"));
      // An empty layout: the refusal must come before any manifest or blob is read.
      const source = new LayoutSource(await OciLayout.openOrCreate(join(dir, "src")), {
        digest: `sha256:${DIGEST}`,
      });
      for (const imageName of [`${DEFAULT_IMAGE}:latest`, "ghcr.io/almet/dangerzone/dangerzone"]) {
        await assert.rejects(
          applyVerifiedUpdate({
            source,
            imageName,
            signedDigest: `sha256:${DIGEST}`,
            signatures,
            key,
            trustedRoot: publicGoodTrustedRoot(),
            dataDir: join(dir, "data"),
            runtime: new OciStoreRuntime(join(dir, "store")),
            signedIdentities: ["ghcr.io/almet/dangerzone/dangerzone"],
          }),
          (e: unknown) =>
            e instanceof RollbackError && /below the floor 2023689270/.test(e.message),
        );
      }
      // Nothing was written but the lock's directory.
      const written = [...Deno.readDirSync(join(dir, "data"))].map((e) => e.name);
      assert.ok(written.every((n) => n === "lock" || n === "tmp"), written.join(","));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
