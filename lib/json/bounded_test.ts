import assert from "node:assert/strict";
import { jsonDepth, JsonShapeError, MAX_JSON_DEPTH, parseBoundedJson } from "./bounded.ts";

Deno.test("jsonDepth counts arrays and objects, not brackets inside strings", () => {
  assert.equal(jsonDepth("1"), 0);
  assert.equal(jsonDepth('{"a":[1,{"b":2}]}'), 3);
  assert.equal(jsonDepth('["[[[[", "\\"[[[", {}]'), 2);
});

Deno.test("parseBoundedJson: shallow documents parse, deep ones are refused before parsing", () => {
  assert.deepEqual(parseBoundedJson('{"a":[1]}'), { a: [1] });
  const ok = "[".repeat(MAX_JSON_DEPTH) + "]".repeat(MAX_JSON_DEPTH);
  assert.ok(Array.isArray(parseBoundedJson(ok)));
  const deep = "[".repeat(1_000_000) + "]".repeat(1_000_000);
  assert.throws(() => parseBoundedJson(deep), JsonShapeError);
  assert.throws(() => parseBoundedJson('{"a":'.repeat(100) + "1" + "}".repeat(100)), /100 levels/);
  assert.throws(() => parseBoundedJson("{"), SyntaxError);
});
