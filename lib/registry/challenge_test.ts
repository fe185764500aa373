import assert from "node:assert/strict";
import { parseChallenges } from "./challenge.ts";

Deno.test("challenge: bearer with quoted params", () => {
  const [c] = parseChallenges(
    'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
  );
  assert.equal(c.scheme, "bearer");
  assert.deepEqual(c.params, {
    realm: "https://auth.example/token",
    service: "registry.example",
    scope: "repository:a/b:pull,push",
  });
});

Deno.test("challenge: several schemes, unquoted values, escapes", () => {
  const cs = parseChallenges(
    'Basic realm="Registry Realm", Bearer realm=https://t/x, error="a\\"b"',
  );
  assert.equal(cs.length, 2);
  assert.equal(cs[0].scheme, "basic");
  assert.equal(cs[0].params.realm, "Registry Realm");
  assert.equal(cs[1].params.realm, "https://t/x");
  assert.equal(cs[1].params.error, 'a"b');
});

Deno.test("challenge: garbage yields no realm", () => {
  assert.deepEqual(parseChallenges(""), []);
  const cs = parseChallenges("Bearer");
  assert.equal(cs[0].params.realm, undefined);
});
