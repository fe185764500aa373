import assert from "node:assert/strict";
import type { Descriptor } from "../oci/media_types.ts";
import { entriesToAttest } from "./index_entries.ts";

const d = (n: number, extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  size: 1,
  ...extra,
});
const amd64 = { os: "linux", architecture: "amd64" };
const unknown = { os: "unknown", architecture: "unknown" };
const att = (target: string) => ({
  "vnd.docker.reference.type": "attestation-manifest",
  "vnd.docker.reference.digest": target,
});
const digests = (ds: Descriptor[]) =>
  entriesToAttest({ manifests: ds }).map((e) => e.descriptor.digest);

Deno.test("entriesToAttest: BuildKit attestation manifests pointing at an entry are passed over", () => {
  const img = d(1, { platform: amd64 });
  const arm = d(2, { platform: { os: "linux", architecture: "arm64" } });
  assert.deepEqual(
    digests([img, d(3, { platform: unknown, annotations: att(img.digest) }), arm]),
    [img.digest, arm.digest],
  );
  assert.deepEqual(entriesToAttest({ manifests: [img] }), [{ descriptor: img }]);
});

Deno.test("entriesToAttest: everything else a runtime could pull is kept, marked", () => {
  const img = d(1, { platform: amd64 });
  const cases: Descriptor[] = [
    d(2, { platform: amd64, annotations: att(img.digest) }),
    d(3, { platform: { os: "unknown", architecture: "amd64" }, annotations: att(img.digest) }),
    d(4, { platform: { ...unknown, variant: "v8" }, annotations: att(img.digest) }),
    d(5, { platform: unknown, annotations: att(`sha256:${"f".repeat(64)}`) }),
    d(6, {
      platform: unknown,
      annotations: { "vnd.docker.reference.type": "attestation-manifest" },
    }),
    d(7, { platform: unknown }),
    d(8, { annotations: att(img.digest) }),
    d(9, {
      platform: unknown,
      annotations: { ...att(img.digest), "vnd.docker.reference.type": "sbom" },
    }),
  ];
  for (const c of cases) {
    const out = entriesToAttest({ manifests: [c, img] });
    assert.deepEqual(out.map((e) => e.descriptor.digest), [c.digest, img.digest], c.digest);
    assert.ok(out[0].disguise, c.digest);
    assert.equal(out[1].disguise, undefined);
  }
  // Pointing at itself, or at another attestation manifest only: nothing exempts it.
  const self = d(2, { platform: unknown });
  self.annotations = att(self.digest);
  assert.deepEqual(digests([self, img]), [self.digest, img.digest]);
  const a = d(3, { platform: unknown, annotations: att(d(4).digest) });
  const b = d(4, { platform: unknown, annotations: att(d(3).digest) });
  assert.deepEqual(digests([a, b]), [a.digest, b.digest]);
});
