import assert from "node:assert/strict";
import { toVerificationPolicy } from "../sigstore/identity.ts";
import {
  GITHUB_ACTIONS_ISSUER,
  isSlsaProvenanceType,
  isTrustedBuilder,
  provenanceIdentity,
} from "./policy.ts";

const GOOD =
  "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.10.0";

Deno.test("policy: only slsa-github-generator's container workflow at a vX.Y.Z tag is trusted", () => {
  assert.ok(isTrustedBuilder(GOOD));
  assert.ok(isTrustedBuilder(GOOD.replace("v1.10.0", "v2.0.0")));
  const bad = [
    undefined,
    "",
    GOOD.replace("generator_container_slsa3", "generator_generic_slsa3"),
    GOOD.replace("refs/tags/v1.10.0", "refs/heads/main"),
    GOOD.replace("v1.10.0", "v1.10"),
    GOOD.replace("v1.10.0", "v1.10.0-rc.1"),
    GOOD.replace("slsa-framework/slsa-github-generator", "evil/slsa-github-generator"),
    GOOD.replace("github.com", "githubXcom"),
    GOOD.replace(".github/workflows", "Xgithub/workflows"),
    GOOD.replace("slsa3.yml", "slsa3Xyml"),
    `${GOOD}\n`,
    `${GOOD}/extra`,
    `x${GOOD}`,
    GOOD.replace("https://", "http://"),
  ];
  for (const b of bad) assert.equal(isTrustedBuilder(b), false, String(b));
});

Deno.test("policy: the identity handed to the verifier is anchored and needs GitHub's issuer", () => {
  const id = provenanceIdentity();
  assert.equal(id.issuer, GITHUB_ACTIONS_ISSUER);
  const policy = toVerificationPolicy(id);
  const san = policy.subjectAlternativeName as RegExp;
  assert.ok(san.test(GOOD));
  assert.equal(san.test(`${GOOD}x`), false);
  assert.equal(san.test(`https://evil.example/${GOOD}`), false);
  assert.equal(san.test(GOOD.replace("container", "generic")), false);
  assert.deepEqual(policy.extensions, { issuer: GITHUB_ACTIONS_ISSUER });
});

Deno.test("policy: predicate types", () => {
  assert.ok(isSlsaProvenanceType("https://slsa.dev/provenance/v0.2"));
  assert.ok(isSlsaProvenanceType("https://slsa.dev/provenance/v1"));
  assert.equal(isSlsaProvenanceType("https://slsa.dev/provenance/v0.1"), false);
  assert.equal(isSlsaProvenanceType("https://spdx.dev/Document"), false);
  assert.equal(isSlsaProvenanceType(undefined), false);
});
