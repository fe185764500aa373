import assert from "node:assert/strict";
import { SignatureFormatError } from "../errors/errors.ts";
import { testdata, testdataOrSkip } from "../../tests/helpers/testdata.ts";
import {
  parseCosignEntry,
  parseCosignListEntries,
  parseCosignSignatureList,
  toCosignDownloadJson,
} from "./cosign_list.ts";
import { decodeBase64Strict } from "../encoding/base64.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const KEY_ID = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";
const dir = (kind: string) => testdata("dangerzone", "signatures", kind, KEY_ID);
const files = (kind: string) =>
  [...Deno.readDirSync(dir(kind))].map((e) => `${dir(kind)}/${e.name}`);

Deno.test("strict base64 refuses text, whitespace and missing padding", () => {
  assert.equal(decodeBase64Strict("Invalid base64 signature"), undefined);
  assert.equal(decodeBase64Strict("YWJj\n"), undefined);
  assert.equal(decodeBase64Strict("YWI"), undefined);
  assert.equal(decodeBase64Strict("YW-_"), undefined);
  assert.deepEqual(decodeBase64Strict("YWI="), new TextEncoder().encode("ab"));
});

Deno.test("valid cosign lists parse, and round-trip to the same JSON", {
  ignore: testdataOrSkip("valid lists parse"),
}, () => {
  for (const f of files("valid")) {
    const text = Deno.readTextFileSync(f);
    const sigs = parseCosignSignatureList(text);
    assert.ok(sigs.length >= 1);
    for (const s of sigs) {
      assert.equal(s.bundle?.kind, "hashedrekord");
      assert.equal(s.bundle?.kindVersion, "0.0.1");
      assert.equal(s.bundle?.logID.length, 64);
    }
    assert.deepEqual(JSON.parse(toCosignDownloadJson(sigs)), JSON.parse(text));
  }
});

Deno.test("every invalid list is refused, naming the bad field", {
  ignore: testdataOrSkip("invalid lists refused"),
}, () => {
  const expected: Record<string, RegExp> = {
    "19e8": /Base64Signature is not valid base64/,
    "220b": /Payload is not valid base64/,
    "4da4": /SignedEntryTimestamp is not valid base64/,
    "7b21": /Payload\.body is not valid base64/,
  };
  const seen = new Set<string>();
  for (const f of files("invalid")) {
    const name = f.split("/").pop()!.slice(0, 4);
    assert.throws(() => parseCosignSignatureList(Deno.readTextFileSync(f)), (e: unknown) => {
      assert.ok(e instanceof SignatureFormatError);
      assert.match(e.message, expected[name]);
      return true;
    });
    seen.add(name);
  }
  assert.equal(seen.size, 4);
});

Deno.test("type errors and bad Rekor fields are refused", {
  ignore: testdataOrSkip("type errors"),
}, () => {
  const good = JSON.parse(Deno.readTextFileSync(files("valid")[0]))[0];
  const mutate = (f: (e: Record<string, Json>) => void) => {
    const e = structuredClone(good);
    f(e);
    return e;
  };
  const cases: [(e: Record<string, Json>) => void, RegExp][] = [
    [(e) => e.Base64Signature = 42, /Base64Signature is not a string/],
    [(e) => e.Payload = "", /Payload is not valid base64|Payload is empty/],
    [(e) => e.Bundle.Payload.logIndex = "1", /logIndex is not a non-negative integer/],
    [(e) => e.Bundle.Payload.integratedTime = -1, /integratedTime is not a non-negative/],
    [(e) => e.Bundle.Payload.logID = "C0D2", /logID is not 64 lowercase hex/],
    [(e) => e.Bundle.Payload.body = btoa("not json"), /body is not a JSON Rekor entry/],
    [(e) => e.Bundle.Payload.body = btoa("{}"), /has no kind/],
    [(e) => e.Bundle = "x", /Bundle is not an object/],
    [(e) => e.Chain = "x", /Chain is not a list/],
    [(e) => e.Cert = { Raw: "%%" }, /Cert\.Raw is not valid base64/],
    [(e) => e.RFC3161Timestamp = {}, /SignedRFC3161Timestamp is not a string/],
  ];
  for (const [f, re] of cases) {
    assert.throws(() => parseCosignEntry(mutate(f)), re);
  }
  // One object is one JSON line (a single signature), so it is checked as an entry.
  assert.throws(() => parseCosignSignatureList("{}"), /signature 1: .*Base64Signature/);
  assert.throws(() => parseCosignSignatureList("42"), /not a JSON list/);
  assert.throws(() => parseCosignSignatureList("not json"), /not JSON/);
  assert.throws(() => parseCosignSignatureList("nope"), /not JSON/);
  const mixed = parseCosignListEntries([good, 7]);
  assert.equal(mixed[0].ok, true);
  assert.equal(mixed[1].ok, false);
});
