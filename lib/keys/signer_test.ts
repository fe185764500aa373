import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { Buffer } from "node:buffer";
import { KeyFormatError, UsageError } from "../errors/errors.ts";
import { testdata, testdataOrSkip } from "../../tests/helpers/testdata.ts";
import { fixedPasswordProvider, type PasswordProvider } from "./password.ts";
import { generateCosignKeyPair } from "./private_key.ts";
import { KeyObjectSigner, signerFromKeyFile } from "./signer.ts";
import { signerFromKeyRef } from "./key_ref.ts";

const neverAsked: PasswordProvider = () => Promise.reject(new Error("password must not be asked"));
const data = new TextEncoder().encode(
  '{"critical":{"image":{"docker-manifest-digest":"sha256:00"}}}',
);

function verifies(pubPem: string, msg: Uint8Array, sig: Uint8Array): boolean {
  return verify("sha256", Buffer.from(msg), createPublicKey(pubPem), Buffer.from(sig));
}

Deno.test("round trip: generate, encrypt, write, decrypt, sign, verify against the .pub", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pair = await generateCosignKeyPair("round trip");
    await Deno.writeTextFile(`${dir}/k.key`, pair.privateKeyPem);
    const signer = await signerFromKeyRef(`${dir}/k.key`, fixedPasswordProvider("round trip"));
    assert.equal(signer.publicKeyPem(), pair.publicKeyPem);
    const sig = await signer.sign(data);
    assert.equal(sig[0], 0x30); // ASN.1 DER SEQUENCE, as cosign
    assert.ok(verifies(pair.publicKeyPem, data, sig));
    // Rejections: other data, altered signature, another key.
    assert.ok(!verifies(pair.publicKeyPem, new TextEncoder().encode("other"), sig));
    const altered = sig.slice();
    altered[altered.length - 1] ^= 1;
    assert.ok(!verifies(pair.publicKeyPem, data, altered));
    const other = await generateCosignKeyPair("x");
    assert.ok(!verifies(other.publicKeyPem, data, sig));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "the cosign-made testing key signs; the signature verifies with dangerzone-testing.pub",
  ignore: testdataOrSkip("cosign testing key"),
  async fn() {
    const signer = await signerFromKeyFile(
      testdata("dangerzone", "dangerzone-testing.key"),
      fixedPasswordProvider("password"),
    );
    const pub = Deno.readTextFileSync(testdata("dangerzone", "dangerzone-testing.pub"));
    assert.equal(signer.publicKeyPem(), pub);
    assert.ok(verifies(pub, data, await signer.sign(data)));
  },
});

Deno.test("only ECDSA P-256 private keys make a signer", () => {
  const keys = [
    generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey,
    generateKeyPairSync("ed25519").privateKey,
    generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey,
  ];
  for (const k of keys) assert.throws(() => new KeyObjectSigner(k), KeyFormatError);
  const pub = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey;
  assert.throws(() => new KeyObjectSigner(pub), KeyFormatError);
});

Deno.test("plain PKCS#8 key files sign without asking for a password", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    await Deno.writeTextFile(
      `${dir}/p.pem`,
      privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    );
    const signer = await signerFromKeyRef(`${dir}/p.pem`, neverAsked);
    const pubPem = publicKey.export({ type: "spki", format: "pem" }) as string;
    assert.equal(signer.publicKeyPem(), pubPem);
    assert.ok(verifies(pubPem, data, await signer.sign(data)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pkcs11: references go to the token signer, not the file reader", async () => {
  // Incomplete URIs (no object / no module path) are usage errors, never "file not found".
  // Token signing itself is tested in ./pkcs11/signer_test.ts.
  for (const ref of ["pkcs11:token=t;object=k?module-path=lib.so", "PKCS11:slot-id=0"]) {
    await assert.rejects(signerFromKeyRef(ref, neverAsked), UsageError);
  }
});
