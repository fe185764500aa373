import assert from "node:assert/strict";
import { VerificationError } from "../errors/errors.ts";
import { checkExpectations, combineClaims, displayRef, type ProvenanceClaims } from "./claims.ts";
import { predicateClaims } from "./predicate.ts";

const BUILDER =
  "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.4.0";
const SHA = "904e2c3e02725e314cf6cf141c4700081298dcbd";
const WF = ".github/workflows/release.yml";

function v02(over: Record<string, unknown> = {}) {
  return {
    _type: "https://in-toto.io/Statement/v0.1",
    predicateType: "https://slsa.dev/provenance/v0.2",
    subject: [],
    predicate: {
      builder: { id: BUILDER },
      invocation: {
        configSource: {
          uri: "git+https://github.com/acme/app@refs/heads/main",
          digest: { sha1: SHA },
          entryPoint: WF,
        },
      },
      ...over,
    },
  };
}

function v1() {
  return {
    _type: "https://in-toto.io/Statement/v1",
    predicateType: "https://slsa.dev/provenance/v1",
    subject: [],
    predicate: {
      buildDefinition: {
        externalParameters: {
          workflow: {
            ref: "refs/tags/v2.0.0",
            repository: "https://github.com/acme/app",
            path: WF,
          },
        },
        resolvedDependencies: [
          { uri: "git+https://github.com/acme/app@refs/tags/v2.0.0", digest: { gitCommit: SHA } },
        ],
      },
      runDetails: { builder: { id: BUILDER } },
    },
  };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof VerificationError, String(e));
    return e.code;
  }
  assert.fail("expected a VerificationError");
}

Deno.test("predicate: v0.2 and v1 facts", () => {
  assert.deepEqual(predicateClaims(v02()), {
    predicateType: "https://slsa.dev/provenance/v0.2",
    builderId: BUILDER,
    repository: "acme/app",
    ref: "refs/heads/main",
    commit: SHA,
    workflow: WF,
  });
  const p1 = predicateClaims(v1());
  assert.equal(p1.repository, "acme/app");
  assert.equal(p1.ref, "refs/tags/v2.0.0");
  assert.equal(p1.commit, SHA);
  assert.equal(p1.workflow, WF);
});

Deno.test("predicate: refuses other predicate types and missing facts", () => {
  assert.equal(
    code(() => predicateClaims({ ...v02(), predicateType: "https://x/y" })),
    "PROVENANCE_TYPE",
  );
  assert.equal(code(() => predicateClaims("text")), "PROVENANCE_INVALID");
  assert.equal(code(() => predicateClaims(v02({ invocation: {} }))), "PROVENANCE_INVALID");
  assert.equal(code(() => predicateClaims(v02({ builder: {} }))), "PROVENANCE_INVALID");
});

Deno.test("claims: statement and certificate must agree; builder must be trusted", () => {
  const pred = predicateClaims(v02());
  const cert = { repository: "acme/app", commit: SHA, ref: "refs/heads/main" };
  const c = combineClaims(pred, cert, BUILDER);
  assert.equal(c.branch, "main");
  assert.equal(c.repository, "acme/app");
  assert.equal(
    code(() => combineClaims(pred, { ...cert, repository: "evil/app" }, BUILDER)),
    "PROVENANCE_INCONSISTENT",
  );
  assert.equal(
    code(() => combineClaims(pred, { ...cert, commit: "0".repeat(40) }, BUILDER)),
    "PROVENANCE_INCONSISTENT",
  );
  assert.equal(
    code(() => combineClaims(pred, { ...cert, ref: "refs/heads/dev" }, BUILDER)),
    "PROVENANCE_INCONSISTENT",
  );
  assert.equal(
    code(() => combineClaims(pred, { ...cert, workflow: ".github/workflows/x.yml" }, BUILDER)),
    "PROVENANCE_INCONSISTENT",
  );
  assert.equal(
    code(() => combineClaims(pred, { commit: SHA, ref: "refs/heads/main" }, BUILDER)),
    "PROVENANCE_CERTIFICATE",
  );
  // Builder identity not the trusted one: rejected, even if statement and SAN agree.
  const generic = BUILDER.replace("generator_container_slsa3", "generator_generic_slsa3");
  assert.equal(
    code(() => combineClaims({ ...pred, builderId: generic }, cert, generic)),
    "PROVENANCE_BUILDER",
  );
  assert.equal(code(() => combineClaims(pred, cert, undefined)), "PROVENANCE_BUILDER");
  // Statement claims another builder than the signer.
  const other = BUILDER.replace("v1.4.0", "v1.9.0");
  assert.equal(code(() => combineClaims(pred, cert, other)), "PROVENANCE_BUILDER");
});

Deno.test("claims: expectations name the failed check", () => {
  const c: ProvenanceClaims = {
    predicateType: "https://slsa.dev/provenance/v0.2",
    builder: BUILDER,
    repository: "acme/app",
    workflow: WF,
    ref: "refs/heads/main",
    branch: "main",
    commit: SHA,
  };
  checkExpectations(c, { repository: "acme/app" });
  checkExpectations(c, { repository: "acme/app", workflow: `./${WF}`, branch: "main" });
  checkExpectations(c, { repository: "acme/app", branch: "refs/heads/main" });
  assert.throws(
    () => checkExpectations(c, { repository: "freedomofpress/dangerzone" }),
    /^VerificationError: source repository is acme\/app, expected freedomofpress\/dangerzone$/,
  );
  assert.throws(
    () => checkExpectations(c, { repository: "acme/app", workflow: "x.yml" }),
    /workflow is/,
  );
  assert.throws(
    () => checkExpectations(c, { repository: "acme/app", branch: "dev" }),
    /git branch is main, expected dev/,
  );
  const tag = { ...c, ref: "refs/tags/v1", branch: undefined };
  assert.throws(
    () => checkExpectations(tag, { repository: "acme/app", branch: "main" }),
    /git ref is refs\/tags\/v1/,
  );
  assert.equal(displayRef("refs/tags/v1"), "refs/tags/v1");
  assert.equal(displayRef("refs/heads/main"), "main");
});
