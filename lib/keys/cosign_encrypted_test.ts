import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { Buffer } from "node:buffer";
import { KeyDecryptError, KeyFormatError } from "../errors/errors.ts";
import { testdata, testdataOrSkip } from "../../tests/helpers/testdata.ts";
import {
  COSIGN_PRIVATE_KEY_LABEL,
  decryptPrivateKeyPem,
  encryptPrivateKeyPem,
  openEnvelope,
  parseEnvelope,
  SCRYPT_LEGACY,
  sealEnvelope,
  SIGSTORE_PRIVATE_KEY_LABEL,
} from "./cosign_encrypted.ts";
import { decodePem, encodePem } from "./pem.ts";
import { decodeBase64Strict, encodeBase64 } from "../encoding/base64.ts";
import { exitStatusOf } from "../cli/exit_codes.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const KEY_NAME = "dangerzone-testing.key";

function readTestKey(): string {
  return Deno.readTextFileSync(testdata("dangerzone", KEY_NAME));
}

function spkiOfPkcs8(der: Uint8Array): Uint8Array {
  const key = createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  return new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
}

/** The testdata key's envelope, parsed as a plain object, to tamper with. */
function testEnvelope(): Record<string, Record<string, unknown>> {
  return JSON.parse(dec.decode(decodePem(readTestKey(), KEY_NAME).der));
}

function rewrap(envelope: unknown, label = SIGSTORE_PRIVATE_KEY_LABEL): string {
  return encodePem(label, enc.encode(JSON.stringify(envelope)));
}

Deno.test({
  name: "cosign-made testing key decrypts with 'password' to the key in dangerzone-testing.pub",
  ignore: testdataOrSkip("cosign testing key"),
  async fn() {
    const der = await decryptPrivateKeyPem(readTestKey(), "password", KEY_NAME);
    const pub = decodePem(
      Deno.readTextFileSync(testdata("dangerzone", "dangerzone-testing.pub")),
      "pub",
    );
    assert.equal(pub.label, "PUBLIC KEY");
    assert.deepEqual(spkiOfPkcs8(der), pub.der);
  },
});

Deno.test({
  name: "testing key: wrong password is refused with KeyDecryptError",
  ignore: testdataOrSkip("cosign testing key"),
  async fn() {
    for (const pw of ["Password", "", "hunter2"]) {
      await assert.rejects(
        decryptPrivateKeyPem(readTestKey(), pw, KEY_NAME),
        (e) =>
          e instanceof KeyDecryptError && exitStatusOf(e) === 3 &&
          /wrong password or corrupt key/.test(e.message) && !e.message.includes(pw || "\0"),
      );
    }
  },
});

Deno.test({
  name: "testing key: one flipped ciphertext, nonce or salt byte is refused",
  ignore: testdataOrSkip("cosign testing key"),
  async fn() {
    const flip = (b64: string, at: number) => {
      const bytes = decodeBase64Strict(b64)!;
      bytes[at] ^= 0x01;
      return encodeBase64(bytes);
    };
    const cases: Array<(e: Record<string, Record<string, unknown>>) => void> = [
      (e) => {
        (e as Record<string, unknown>).ciphertext = flip(e.ciphertext as unknown as string, 0);
      },
      (e) => {
        (e as Record<string, unknown>).ciphertext = flip(e.ciphertext as unknown as string, 40);
      },
      (e) => {
        e.cipher.nonce = flip(e.cipher.nonce as string, 23);
      },
      (e) => {
        e.kdf.salt = flip(e.kdf.salt as string, 5);
      },
    ];
    for (const change of cases) {
      const e = testEnvelope();
      change(e);
      await assert.rejects(decryptPrivateKeyPem(rewrap(e), "password"), KeyDecryptError);
    }
  },
});

Deno.test({
  name: "testing key: other kdf params, kdf name or cipher name are refused before decrypting",
  ignore: testdataOrSkip("cosign testing key"),
  async fn() {
    const cases: Array<[string, (e: Record<string, Record<string, unknown>>) => void]> = [
      ["N=99", (e) => (e.kdf.params = { N: 99, r: 8, p: 1 })],
      ["N=2^20 (memory trap)", (e) => (e.kdf.params = { N: 1 << 20, r: 8, p: 1 })],
      ["r=16", (e) => (e.kdf.params = { N: 65536, r: 16, p: 1 })],
      ["p as string", (e) => (e.kdf.params = { N: 65536, r: 8, p: "1" })],
      ["no params", (e) => delete e.kdf.params],
      ["kdf pbkdf2", (e) => (e.kdf.name = "pbkdf2")],
      ["cipher aes", (e) => (e.cipher.name = "aes-256-gcm")],
      ["cipher case", (e) => (e.cipher.name = "NaCl/secretbox")],
      ["short nonce", (e) => (e.cipher.nonce = encodeBase64(new Uint8Array(16)))],
      ["nonce not base64", (e) => (e.cipher.nonce = "not base64!")],
      ["empty salt", (e) => (e.kdf.salt = "")],
      ["short ciphertext", (e) => ((e as Record<string, unknown>).ciphertext = "AAAA")],
      ["no cipher", (e) => delete e.cipher],
    ];
    for (const [what, change] of cases) {
      const e = testEnvelope();
      change(e);
      await assert.rejects(
        decryptPrivateKeyPem(rewrap(e), "password"),
        KeyFormatError,
        `expected refusal: ${what}`,
      );
    }
  },
});

Deno.test({
  name: "the older 'ENCRYPTED COSIGN PRIVATE KEY' label is read; other labels are not",
  ignore: testdataOrSkip("cosign testing key"),
  async fn() {
    const body = decodePem(readTestKey(), KEY_NAME).der;
    const der = await decryptPrivateKeyPem(encodePem(COSIGN_PRIVATE_KEY_LABEL, body), "password");
    assert.ok(der.length > 100);
    await assert.rejects(
      decryptPrivateKeyPem(encodePem("ENCRYPTED PRIVATE KEY", body), "password"),
      KeyFormatError,
    );
  },
});

Deno.test({
  name: "what we write has cosign's PEM label, line width and JSON field names/order",
  ignore: testdataOrSkip("cosign testing key"),
  async fn() {
    const ours = await encryptPrivateKeyPem(new Uint8Array(138).fill(7), "pw");
    const theirs = readTestKey();
    const shape = (pemText: string) => {
      const lines = pemText.trimEnd().split("\n");
      const block = decodePem(pemText, "x");
      const doc = JSON.parse(dec.decode(block.der));
      const keys = (o: unknown): unknown =>
        o && typeof o === "object" ? Object.entries(o).map(([k, v]) => [k, keys(v)]) : typeof o;
      return {
        first: lines[0],
        last: lines[lines.length - 1],
        widths: lines.slice(1, -2).every((l) => l.length === 64),
        keys: keys(doc),
        params: doc.kdf.params,
        names: [doc.kdf.name, doc.cipher.name],
        saltLen: decodeBase64Strict(doc.kdf.salt)!.length,
        nonceLen: decodeBase64Strict(doc.cipher.nonce)!.length,
        ctLen: decodeBase64Strict(doc.ciphertext)!.length,
        endsWithNewline: pemText.endsWith("-----\n"),
      };
    };
    assert.deepEqual(shape(ours), shape(theirs));
    // And the exact JSON text layout (no spaces, this field order).
    const json = dec.decode(decodePem(ours, "x").der);
    assert.match(
      json,
      /^\{"kdf":\{"name":"scrypt","params":\{"N":65536,"r":8,"p":1\},"salt":"[A-Za-z0-9+/=]{44}"\},"cipher":\{"name":"nacl\/secretbox","nonce":"[A-Za-z0-9+/=]{32}"\},"ciphertext":"[A-Za-z0-9+/=]+"\}$/,
    );
  },
});

// Interoperability vectors published with go-securesystemslib's `encrypted`
// package (the library cosign uses): passphrase "supersecret", payload the
// JSON of base64("reallyimportant"), one per accepted scrypt parameter set.
const GO_VECTORS = [
  `{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"WO3mVvyTwJ9vwT5/Tk5OW5WPIBUofMjcpEfrLnfY4uA="},"cipher":{"name":"nacl/secretbox","nonce":"tCy7HcTFr4uxv4Nrg/DWmncuZ148U1MX"},"ciphertext":"08n43p5G5yviPEZpO7tPPF4aZQkWiWjkv4taFdhDBA0tamKH4nw="}`,
  `{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"FhzPOt9/bJG4PTq6lQ6ecG6GzaOuOy/ynG5+yRiFlNs="},"cipher":{"name":"nacl/secretbox","nonce":"aw1ng1jHaDz/tQ7V2gR9O2+IGQ8xJEuE"},"ciphertext":"HycvuLZL4sYH0BrYTh4E/H20VtAW6u5zL5Pr+IBjYLYnCPzDkq8="}`,
  `{"kdf":{"name":"scrypt","params":{"N":131072,"r":8,"p":1},"salt":"m38E3kouJTtiheLQN22NQ8DTito5hrjpUIskqcd375k="},"cipher":{"name":"nacl/secretbox","nonce":"Y6PM13yA+o44pE/W1ZBwczeGnTV/m9Zc"},"ciphertext":"6H8sqj1K6B6yDjtH5AQ6lbFigg/C2yDDJc4rYJ79w9aVPImFIPI="}`,
];

Deno.test("go-securesystemslib vectors (Legacy, Standard, OWASP) decrypt", async () => {
  for (const v of GO_VECTORS) {
    // These vectors wrap the JSON encoding of the plaintext (encrypted.Marshal).
    const plain = JSON.parse(dec.decode(await openEnvelope(enc.encode(v), "supersecret")));
    assert.equal(atob(plain), "reallyimportant");
    await assert.rejects(openEnvelope(enc.encode(v), "supersecreT"), KeyDecryptError);
  }
});

Deno.test("seal/open round trip; fixed salt and nonce give a deterministic envelope", async () => {
  const plain = enc.encode("the PKCS#8 bytes would go here");
  const opts = {
    params: SCRYPT_LEGACY,
    salt: new Uint8Array(32).fill(1),
    nonce: new Uint8Array(24).fill(2),
  };
  const a = await sealEnvelope(plain, "correct horse", opts);
  const b = await sealEnvelope(plain, "correct horse", opts);
  assert.deepEqual(a, b);
  assert.deepEqual(parseEnvelope(a).params, { N: 32768, r: 8, p: 1 });
  assert.deepEqual(await openEnvelope(a, "correct horse"), plain);
  await assert.rejects(openEnvelope(a, "correct horsE"), KeyDecryptError);
  // Random salt and nonce by default: two seals differ.
  const c = await sealEnvelope(plain, "pw");
  const d = await sealEnvelope(plain, "pw");
  assert.notDeepEqual(c, d);
  // Empty passwords are allowed, as in cosign.
  assert.deepEqual(await openEnvelope(await sealEnvelope(plain, ""), ""), plain);
});

Deno.test("a body that is not JSON is a KeyFormatError", async () => {
  await assert.rejects(openEnvelope(enc.encode("\x00\x01garbage"), "pw"), KeyFormatError);
  await assert.rejects(openEnvelope(enc.encode("[1,2]"), "pw"), KeyFormatError);
});
