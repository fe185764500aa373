import assert from "node:assert/strict";
import { pythonJson } from "./python_json.ts";

Deno.test("pythonJson writes what Python's json.dumps writes by default", () => {
  // Expected strings are python3 -c 'import json; print(json.dumps(...))' outputs.
  assert.equal(pythonJson({ a: 1, b: [1, 2], c: {} }), '{"a": 1, "b": [1, 2], "c": {}}');
  assert.equal(pythonJson([]), "[]");
  assert.equal(
    pythonJson({ s: 'é\u2028😀\n"\\' }),
    '{"s": "\\u00e9\\u2028\\ud83d\\ude00\\n\\"\\\\"}',
  );
  assert.equal(
    pythonJson({ t: true, f: false, n: null, x: 1.5 }),
    '{"t": true, "f": false, "n": null, "x": 1.5}',
  );
  assert.equal(pythonJson({ u: undefined, k: 2 }), '{"k": 2}');
});
