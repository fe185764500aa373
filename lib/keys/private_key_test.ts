import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { KeyDecryptError, KeyFormatError } from "../errors/errors.ts";
import { testdata, testdataOrSkip } from "../../tests/helpers/testdata.ts";
import { decryptPrivateKeyPem, SIGSTORE_PRIVATE_KEY_LABEL } from "./cosign_encrypted.ts";
import { fixedPasswordProvider, type PasswordProvider } from "./password.ts";
import { decodePem } from "./pem.ts";
import {
  generateCosignKeyPair,
  isEcP256,
  parsePrivateKey,
  publicKeyDer,
  publicKeyPem,
  readPrivateKeyFile,
} from "./private_key.ts";

const neverAsked: PasswordProvider = () => Promise.reject(new Error("password must not be asked"));

Deno.test({
  name: "testing key file: decrypted KeyObject's public key PEM is exactly dangerzone-testing.pub",
  ignore: testdataOrSkip("cosign testing key"),
  async fn() {
    const asked: boolean[] = [];
    const key = await readPrivateKeyFile(
      testdata("dangerzone", "dangerzone-testing.key"),
      (req) => {
        asked.push(req.confirm);
        return Promise.resolve("password");
      },
    );
    assert.deepEqual(asked, [false]);
    assert.equal(key.type, "private");
    assert.ok(isEcP256(key));
    const pub = Deno.readTextFileSync(testdata("dangerzone", "dangerzone-testing.pub"));
    assert.equal(publicKeyPem(key), pub);
    await assert.rejects(
      readPrivateKeyFile(
        testdata("dangerzone", "dangerzone-testing.key"),
        fixedPasswordProvider("nope"),
      ),
      KeyDecryptError,
    );
  },
});

Deno.test("plain PKCS#8 'PRIVATE KEY' and SEC1 'EC PRIVATE KEY' PEMs load without a password", async () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const want = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const sec1 = privateKey.export({ type: "sec1", format: "pem" }) as string;
  assert.match(sec1, /BEGIN EC PRIVATE KEY/);
  for (const text of [pkcs8, sec1]) {
    const key = await parsePrivateKey(text, neverAsked);
    assert.deepEqual(publicKeyDer(key), want);
  }
});

Deno.test("unsupported or broken private key files are refused with KeyFormatError", async () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
    type: "pkcs1",
    format: "pem",
  }) as string;
  const bad = [
    rsa, // RSA PRIVATE KEY (PKCS#1) is not read
    "-----BEGIN PUBLIC KEY-----\nAQID\n-----END PUBLIC KEY-----\n",
    "-----BEGIN PRIVATE KEY-----\nAQIDBA==\n-----END PRIVATE KEY-----\n", // not DER
    "-----BEGIN EC PRIVATE KEY-----\nAQIDBA==\n-----END EC PRIVATE KEY-----\n",
    "hello",
  ];
  for (const text of bad) {
    await assert.rejects(parsePrivateKey(text, neverAsked), KeyFormatError, text.slice(0, 40));
  }
});

Deno.test("a missing key file is a usage error (exit 2), not a stack trace", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      readPrivateKeyFile(`${dir}/absent.key`, neverAsked),
      (e: Error & { code?: string }) => e.code === "USAGE" && /does not exist/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generateCosignKeyPair: encrypted private key decrypts to the pair of the public PEM", async () => {
  const pair = await generateCosignKeyPair("pässwörd");
  assert.equal(decodePem(pair.privateKeyPem, "k").label, SIGSTORE_PRIVATE_KEY_LABEL);
  assert.equal(decodePem(pair.publicKeyPem, "p").label, "PUBLIC KEY");
  assert.ok(!pair.privateKeyPem.includes("PRIVATE KEY-----\nMIG")); // not plaintext PKCS#8
  const key = await parsePrivateKey(pair.privateKeyPem, fixedPasswordProvider("pässwörd"));
  assert.ok(isEcP256(key));
  assert.equal(publicKeyPem(key), pair.publicKeyPem);
  await assert.rejects(decryptPrivateKeyPem(pair.privateKeyPem, "passwörd"), KeyDecryptError);
});
