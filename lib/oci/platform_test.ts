/** Platform parsing and index selection. */
import assert from "node:assert/strict";
import { parsePlatform, selectPlatform } from "./platform.ts";
import type { ImageIndex } from "./media_types.ts";

const d = (n: string) => `sha256:${n.repeat(64)}`;
const index: ImageIndex = {
  schemaVersion: 2,
  manifests: [
    { mediaType: "m", digest: d("a"), size: 1, platform: { os: "linux", architecture: "amd64" } },
    {
      mediaType: "m",
      digest: d("b"),
      size: 1,
      platform: { os: "linux", architecture: "arm64", variant: "v8" },
    },
    {
      mediaType: "m",
      digest: d("c"),
      size: 1,
      platform: { os: "linux", architecture: "arm", variant: "v7" },
    },
    {
      mediaType: "m",
      digest: d("d"),
      size: 1,
      platform: { os: "unknown", architecture: "unknown" },
      annotations: { "vnd.docker.reference.type": "attestation-manifest" },
    },
  ],
};

Deno.test("parsePlatform: os/arch[/variant], rejects others", () => {
  assert.deepEqual(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("linux/arm/v7"), {
    os: "linux",
    architecture: "arm",
    variant: "v7",
  });
  for (const bad of ["linux", "linux/", "a/b/c/d", "linux/amd64 x"]) {
    assert.throws(() => parsePlatform(bad), /OS\/ARCH/);
  }
});

Deno.test("selectPlatform: arch and variant rules; missing platform refused", () => {
  assert.equal(selectPlatform(index, parsePlatform("linux/amd64")).digest, d("a"));
  assert.equal(selectPlatform(index, parsePlatform("linux/arm64")).digest, d("b"));
  assert.equal(selectPlatform(index, parsePlatform("linux/arm64/v8")).digest, d("b"));
  assert.equal(selectPlatform(index, parsePlatform("linux/arm/v7")).digest, d("c"));
  assert.throws(() => selectPlatform(index, parsePlatform("linux/arm/v6")), /no linux\/arm\/v6/);
  assert.throws(() => selectPlatform(index, parsePlatform("windows/amd64")), /has: linux/);
  assert.throws(() => selectPlatform(index, parsePlatform("unknown/unknown")));
});
