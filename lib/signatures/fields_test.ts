import assert from "node:assert/strict";
import { parsePemCertificates } from "./fields.ts";
import { SignatureFormatError } from "../errors/errors.ts";

const block = (b64: string) => `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;

Deno.test("PEM chains: blocks separated by whitespace only", () => {
  const certs = parsePemCertificates(block("AQID") + "\n  " + block("BAUG"), "chain");
  assert.deepEqual(certs.map((c) => [...c]), [[1, 2, 3], [4, 5, 6]]);
});

Deno.test("PEM chains: text before, between or after blocks is refused", () => {
  for (
    const text of [
      "junk" + block("AQID"),
      block("AQID") + "junk" + block("BAUG"),
      block("AQID") + "trailing",
      "",
      block("!!!!"),
    ]
  ) {
    assert.throws(() => parsePemCertificates(text, "chain"), SignatureFormatError, text);
  }
});

Deno.test("PEM chains: thousands of blocks parse in one pass", () => {
  const many = block("AQID").repeat(5000);
  assert.equal(parsePemCertificates(many, "chain").length, 5000);
});
