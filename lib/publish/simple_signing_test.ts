import assert from "node:assert/strict";
import { simpleSigningPayload } from "./simple_signing.ts";
import { testdata, testdataOrSkip } from "../../tests/helpers/testdata.ts";

const KEY_DIR = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";
const DIGEST = `sha256:${"ab".repeat(32)}`;

Deno.test({
  name: "simple signing: same document shape as cosign's real payloads",
  ignore: testdataOrSkip("simple signing payload shape"),
  async fn() {
    // valid/<sha256 of test.pub.key>/<image digest>.json
    const dir = testdata("dangerzone", "signatures", "valid", KEY_DIR);
    let checked = 0;
    for (const file of [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".json"))) {
      for (const entry of JSON.parse(await Deno.readTextFile(`${dir}/${file.name}`))) {
        const real = new TextDecoder().decode(
          Uint8Array.from(atob(entry.Payload), (c) => c.charCodeAt(0)),
        );
        const parsed = JSON.parse(real);
        const ours = new TextDecoder().decode(
          simpleSigningPayload(
            parsed.critical.identity["docker-reference"],
            parsed.critical.image["docker-manifest-digest"],
            parsed.optional ?? undefined,
          ),
        );
        // Byte for byte, as cosign serializes it (key order, null optional).
        assert.equal(ours, real);
        checked++;
      }
    }
    assert.ok(checked >= 5, `checked ${checked} real payloads`);
  },
});

Deno.test("simple signing: refuses a bad digest; annotations go to optional", () => {
  assert.throws(() => simpleSigningPayload("r/x", "sha256:abc"));
  const doc = JSON.parse(
    new TextDecoder().decode(simpleSigningPayload("r/x", DIGEST, { release: "1" })),
  );
  assert.deepEqual(doc.optional, { release: "1" });
  assert.equal(doc.critical.type, "cosign container image signature");
});
