import assert from "node:assert/strict";
import { KeyFormatError } from "../errors/errors.ts";
import { decodePem, encodePem } from "./pem.ts";
import { decodeBase64Strict, encodeBase64 } from "../encoding/base64.ts";

Deno.test("encodePem/decodePem round trip with 64-column lines and a final newline", () => {
  const der = crypto.getRandomValues(new Uint8Array(200));
  const pem = encodePem("PUBLIC KEY", der);
  const lines = pem.split("\n");
  assert.equal(lines[0], "-----BEGIN PUBLIC KEY-----");
  assert.equal(lines.at(-2), "-----END PUBLIC KEY-----");
  assert.equal(lines.at(-1), "");
  assert.ok(lines.slice(1, -3).every((l) => l.length === 64));
  assert.deepEqual(decodePem(pem, "x"), { label: "PUBLIC KEY", der });
  // CRLF line endings and surrounding text are tolerated.
  assert.deepEqual(decodePem(`note\r\n${pem.replaceAll("\n", "\r\n")}trailer`, "x").der, der);
});

Deno.test("decodePem refuses missing, doubled, mismatched, header-bearing or non-base64 blocks", () => {
  const good = encodePem("PRIVATE KEY", new Uint8Array([1, 2, 3, 4, 5]));
  const bad = [
    "no pem here",
    good + good,
    good.replace("-----END PRIVATE KEY-----", "-----END PUBLIC KEY-----"),
    good.replace(
      "-----BEGIN PRIVATE KEY-----\n",
      "-----BEGIN PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n",
    ),
    good.replace("AQIDBAU=", "AQID*AU="),
    good.replace("AQIDBAU=", "AQIDBAU"),
    good.replace("AQIDBAU=", "AQIDBA-_"),
    "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
  ];
  for (const text of bad) assert.throws(() => decodePem(text, "k"), KeyFormatError, text);
});

Deno.test("decodeBase64Strict accepts only padded standard base64", () => {
  assert.deepEqual(decodeBase64Strict("AQID"), new Uint8Array([1, 2, 3]));
  assert.deepEqual(decodeBase64Strict(""), new Uint8Array());
  for (const s of ["AQI", "AQ==AQ==", "AQ ID", "AQ_D", "A===", "AQID\n"]) {
    assert.equal(decodeBase64Strict(s), undefined, s);
  }
  const big = new Uint8Array(100_000).map((_, i) => (i * 7919) & 0xff);
  assert.deepEqual(decodeBase64Strict(encodeBase64(big)), big);
});
