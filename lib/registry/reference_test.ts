import assert from "node:assert/strict";
import {
  formatReference,
  isLoopbackHost,
  parseImageReference,
  parseRegistryReference,
} from "./reference.ts";
import { InvalidReferenceError } from "../errors/errors.ts";
import { exitStatusOf } from "../cli/exit_codes.ts";

const D = "sha256:" + "a".repeat(64);

Deno.test("reference: docker grammar, valid inputs", () => {
  const cases: [string, string, string, string | undefined, string | undefined][] = [
    ["alpine", "docker.io", "library/alpine", undefined, undefined],
    ["alpine:3.19", "docker.io", "library/alpine", "3.19", undefined],
    ["user/app", "docker.io", "user/app", undefined, undefined],
    [
      "ghcr.io/freedomofpress/dangerzone/dangerzone",
      "ghcr.io",
      "freedomofpress/dangerzone/dangerzone",
      undefined,
      undefined,
    ],
    ["ghcr.io/a/b:latest@" + D, "ghcr.io", "a/b", "latest", D],
    ["127.0.0.1:5000/x/y@" + D, "127.0.0.1:5000", "x/y", undefined, D],
    ["localhost/app:v1", "localhost", "app", "v1", undefined],
    ["localhost:5000/app", "localhost:5000", "app", undefined, undefined],
    ["[::1]:5000/app:t", "[::1]:5000", "app", "t", undefined],
    ["index.docker.io/library/alpine", "docker.io", "library/alpine", undefined, undefined],
    ["Registry.Example/a", "registry.example", "a", undefined, undefined],
    ["reg.io/a_b/c-d/e__f/g.h:T_1.x-y", "reg.io", "a_b/c-d/e__f/g.h", "T_1.x-y", undefined],
  ];
  for (const [input, registry, repository, tag, digest] of cases) {
    const r = parseRegistryReference(input);
    assert.deepEqual(
      { registry: r.registry, repository: r.repository, tag: r.tag, digest: r.digest },
      { registry, repository, tag, digest },
      input,
    );
  }
  assert.equal(formatReference(parseRegistryReference("a/b:c@" + D)), `docker.io/a/b:c@${D}`);
});

Deno.test("reference: invalid inputs are refused with a clear message", () => {
  const bad: [string, RegExp][] = [
    ["", /empty/],
    ["upper/Case", /lowercase/],
    ["ghcr.io/a/B", /lowercase/],
    ["ghcr.io/a//b", /empty repository path/],
    ["ghcr.io/a/b:", /invalid tag/],
    ["ghcr.io/a/b:-bad", /invalid tag/],
    ["ghcr.io/a/b:" + "t".repeat(129), /invalid tag/],
    ["ghcr.io/a/b@sha256:abc", /invalid digest/],
    ["ghcr.io/a/b@sha256:" + "A".repeat(64), /lowercase/],
    ["ghcr.io/a/b@md5:" + "a".repeat(32), /invalid digest/],
    ["https://ghcr.io/a/b", /URL/],
    ["ghcr.io/a b", /whitespace/],
    ["reg.io:99999/a", /port/],
    ["a/" + "b".repeat(260), /longer than/],
    ["ghcr.io/-a/b", /component/],
  ];
  for (const [input, re] of bad) {
    assert.throws(() => parseRegistryReference(input), (e: unknown) => {
      assert.ok(e instanceof InvalidReferenceError, `${input}: ${e}`);
      assert.match((e as Error).message, re, input);
      assert.equal(exitStatusOf(e), 2);
      return true;
    });
  }
});

Deno.test("reference: oci: and archive: sources", () => {
  assert.deepEqual(parseImageReference("oci:./layout"), {
    kind: "oci",
    path: "./layout",
    tag: undefined,
    digest: undefined,
  });
  assert.deepEqual(parseImageReference("oci:/tmp/x:latest"), {
    kind: "oci",
    path: "/tmp/x",
    tag: "latest",
    digest: undefined,
  });
  assert.deepEqual(parseImageReference(`oci:/tmp/x@${D}`), {
    kind: "oci",
    path: "/tmp/x",
    tag: undefined,
    digest: D,
  });
  assert.deepEqual(parseImageReference("archive:/tmp/a.tar"), {
    kind: "archive",
    path: "/tmp/a.tar",
  });
  assert.throws(() => parseImageReference("oci:"), InvalidReferenceError);
  assert.throws(() => parseImageReference("archive:"), InvalidReferenceError);
  assert.throws(() => parseImageReference("oci:/x@sha256:zz"), InvalidReferenceError);
});

Deno.test("reference: loopback detection", () => {
  for (const h of ["127.0.0.1:5000", "127.1.2.3", "localhost", "localhost:80", "[::1]:5000"]) {
    assert.ok(isLoopbackHost(h), h);
  }
  for (const h of ["ghcr.io", "10.0.0.1:5000", "localhost.evil.com", "127.0.0.1.nip.io"]) {
    assert.ok(!isLoopbackHost(h), h);
  }
});
