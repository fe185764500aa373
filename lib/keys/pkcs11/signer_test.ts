/**
 * The PKCS#11 signer against a real SoftHSM2 token: it reports the public
 * key of the key it signs with, its signatures verify, and it refuses
 * wrong PINs, unknown tokens and keys, ambiguous URIs, non-P-256 keys, a
 * missing public key object and missing FFI permission, never printing the PIN.
 */
import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DzError, PasswordUnavailableError, Pkcs11Error, UsageError } from "../../errors/errors.ts";
import { fixedPasswordProvider } from "../password.ts";
import { signerFromKeyRef } from "../key_ref.ts";
import { Pkcs11Module } from "./module.ts";
import { signerFromPkcs11Uri } from "./signer.ts";
import {
  createSoftHsmToken,
  SOFTHSM_MODULE,
  softHsmOrSkip,
  type SoftHsmToken,
} from "../../../tests/helpers/softhsm.ts";
import { exitStatusOf } from "../../cli/exit_codes.ts";

const ignore = softHsmOrSkip();
const data = new TextEncoder().encode(
  '{"critical":{"image":{"docker-manifest-digest":"sha256:00"}}}',
);
/** A PIN distinctive enough to grep for in any output. */
const PIN = "PIN-7c41e9";
const noTerminal = {
  env: () => undefined,
  input: {
    isTerminal: () => false,
    setRaw() {},
    read: () => Promise.resolve(null),
  },
};

function verifies(pubPem: string, msg: Uint8Array, sig: Uint8Array): boolean {
  return verify("sha256", Buffer.from(msg), createPublicKey(pubPem), Buffer.from(sig));
}

/** Everything an error could show a user or a debug log. */
function everything(e: unknown): string {
  const parts: string[] = [];
  let c: unknown = e;
  while (c instanceof Error) {
    parts.push(c.message, c.stack ?? "", String(c));
    if (c instanceof DzError) parts.push(c.hint ?? "", JSON.stringify(c));
    c = c.cause;
  }
  return parts.join("\n");
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

async function withToken(fn: (t: SoftHsmToken) => Promise<void>): Promise<void> {
  await using token = await createSoftHsmToken("dz", PIN);
  await fn(token);
}

Deno.test({
  name: "pkcs11 signer: signs with the token key; the reported public key is the key's",
  ignore,
  fn: () =>
    withToken(async (t) => {
      const key = await t.importKey("signing", "01");
      const other = await t.importKey("other", "02");
      for (
        const uri of [
          t.uri("object=signing", `&pin-value=${PIN}`),
          t.uri("id=%01", `&pin-value=${PIN}`),
          t.uri("object=signing;id=%01;type=private", `&pin-value=${PIN}`),
        ]
      ) {
        // Through the entry point `sign` uses; the key password is never asked.
        const signer = await signerFromKeyRef(uri, () => Promise.reject(new Error("asked")));
        assert.equal(signer.publicKeyPem(), key.publicPem, uri);
        const sig = await signer.sign(data);
        assert.equal(sig[0], 0x30); // DER SEQUENCE, as cosign stores it
        assert.ok(verifies(key.publicPem, data, sig));
        // Rejections: other data, an altered signature, another key.
        assert.ok(!verifies(key.publicPem, new TextEncoder().encode("other"), sig));
        const altered = sig.slice();
        altered[altered.length - 1] ^= 1;
        assert.ok(!verifies(key.publicPem, data, altered));
        assert.ok(!verifies(other.publicPem, data, sig));
      }
      // ECDSA is randomised: two signatures differ, both verify.
      const signer = await signerFromPkcs11Uri(t.uri("object=other", `&pin-value=${PIN}`));
      const [a, b] = [await signer.sign(data), await signer.sign(data)];
      assert.notDeepEqual(a, b);
      assert.ok(verifies(other.publicPem, data, a) && verifies(other.publicPem, data, b));
    }),
});

Deno.test({
  name: "pkcs11 signer: slot-id, COSIGN_PKCS11_PIN, pin-source and the prompt all work",
  ignore,
  fn: () =>
    withToken(async (t) => {
      const key = await t.importKey("signing", "01");
      const m = Pkcs11Module.load(SOFTHSM_MODULE);
      let slot: bigint;
      try {
        slot = m.slots().find((s) => m.tokenInfo(s).label === "dz")!;
      } finally {
        m.close();
      }
      const bySlot = `pkcs11:slot-id=${slot};object=signing?module-path=${SOFTHSM_MODULE}`;
      const fromEnv = await signerFromPkcs11Uri(bySlot, {
        pins: { env: (n) => (n === "COSIGN_PKCS11_PIN" ? PIN : undefined) },
      });
      assert.ok(verifies(key.publicPem, data, await fromEnv.sign(data)));

      const pinFile = join(t.dir, "pin.txt");
      await Deno.writeTextFile(pinFile, `${PIN}\n`, { mode: 0o600 });
      const fromFile = await signerFromPkcs11Uri(
        t.uri("object=signing", `&pin-source=file:${pinFile}`),
        { pins: noTerminal },
      );
      assert.ok(verifies(key.publicPem, data, await fromFile.sign(data)));

      const prompts: string[] = [];
      const typed = new TextEncoder().encode(`${PIN}\r`);
      let given = false;
      const prompted = await signerFromPkcs11Uri(t.uri("object=signing"), {
        pins: {
          env: () => undefined,
          prompt: (s) => prompts.push(s),
          input: {
            isTerminal: () => true,
            setRaw() {},
            read(buf) {
              if (given) return Promise.resolve(null);
              given = true;
              buf.set(typed);
              return Promise.resolve(typed.length);
            },
          },
        },
      });
      assert.ok(verifies(key.publicPem, data, await prompted.sign(data)));
      assert.match(prompts.join(""), /Enter PIN for key 'signing' in PKCS11 token 'dz'/);
      assert.ok(!prompts.join("").includes(PIN));
    }),
});

Deno.test({
  name: "pkcs11 signer: wrong PIN, no PIN, unknown token or key are clear errors without the PIN",
  ignore,
  fn: () =>
    withToken(async (t) => {
      await t.importKey("signing", "01");
      const wrongPin = "WRONG-93f0b2";
      const e1 = await rejection(
        signerFromPkcs11Uri(t.uri("object=signing", `&pin-value=${wrongPin}`)),
      );
      assert.ok(e1 instanceof Pkcs11Error);
      assert.equal(e1.rv, "CKR_PIN_INCORRECT");
      assert.equal(exitStatusOf(e1), 3);
      assert.match(e1.message, /token 'dz' refused the PIN/);
      assert.ok(!everything(e1).includes(wrongPin));
      assert.ok(!everything(e1).includes(PIN));

      const e2 = await rejection(
        signerFromPkcs11Uri(t.uri("object=signing"), { pins: noTerminal }),
      );
      assert.ok(e2 instanceof PasswordUnavailableError);
      assert.match(e2.hint!, /COSIGN_PKCS11_PIN/);

      const e3 = await rejection(
        signerFromPkcs11Uri(
          `pkcs11:token=nope;object=signing?module-path=${SOFTHSM_MODULE}&pin-value=${PIN}`,
        ),
      );
      assert.ok(e3 instanceof Pkcs11Error);
      assert.match(e3.message, /no PKCS#11 token 'nope' found/);
      assert.match(e3.hint!, /'dz'/);
      assert.ok(!everything(e3).includes(PIN));

      const e4 = await rejection(
        signerFromPkcs11Uri(t.uri("object=missing", `&pin-value=${PIN}`)),
      );
      assert.ok(e4 instanceof Pkcs11Error);
      assert.match(e4.message, /no private key 'missing' on the PKCS#11 token 'dz'/);
      // The right label with the wrong id is not that key either.
      const e5 = await rejection(
        signerFromPkcs11Uri(t.uri("object=signing;id=%02", `&pin-value=${PIN}`)),
      );
      assert.match(e5.message, /no private key 'signing' id 02/);
      // A token found by slot-id must still carry the named label.
      const e6 = await rejection(signerFromPkcs11Uri(
        `pkcs11:slot-id=999999;object=signing?module-path=${SOFTHSM_MODULE}&pin-value=${PIN}`,
      ));
      assert.match(e6.message, /no PKCS#11 token in slot 999999 found/);

      // Malformed URI: a usage error that does not echo the PIN.
      const e7 = await rejection(
        signerFromKeyRef(`pkcs11:object=signing?pin-value=${PIN}`, fixedPasswordProvider("x")),
      );
      assert.ok(e7 instanceof UsageError);
      assert.ok(!everything(e7).includes(PIN));
    }),
});

Deno.test({
  name: "pkcs11 signer: refuses ambiguous URIs, non-P-256 keys and a missing public key",
  ignore,
  fn: () =>
    withToken(async (t) => {
      const k1 = await t.importKey("twin", "11");
      const k2 = await t.importKey("twin", "12");
      const e1 = await rejection(signerFromPkcs11Uri(t.uri("object=twin", `&pin-value=${PIN}`)));
      assert.ok(e1 instanceof Pkcs11Error);
      assert.match(e1.message, /2 private keys match key 'twin'/);
      // Naming both attributes selects exactly one.
      for (const [id, key] of [["%11", k1], ["%12", k2]] as const) {
        const s = await signerFromPkcs11Uri(t.uri(`object=twin;id=${id}`, `&pin-value=${PIN}`));
        assert.equal(s.publicKeyPem(), key.publicPem);
        assert.ok(verifies(key.publicPem, data, await s.sign(data)));
      }

      await t.importKey("rsa", "21", {
        key: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey,
      });
      const e2 = await rejection(signerFromPkcs11Uri(t.uri("object=rsa", `&pin-value=${PIN}`)));
      assert.ok(e2 instanceof Pkcs11Error);
      assert.match(e2.message, /is not an EC key/);

      await t.importKey("p384", "22", {
        key: generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey,
      });
      const e3 = await rejection(signerFromPkcs11Uri(t.uri("object=p384", `&pin-value=${PIN}`)));
      assert.ok(e3 instanceof Pkcs11Error);
      assert.match(e3.message, /not on curve P-256/);

      await t.importKey("nopub", "23", { noPublicKey: true });
      const e4 = await rejection(signerFromPkcs11Uri(t.uri("object=nopub", `&pin-value=${PIN}`)));
      assert.ok(e4 instanceof Pkcs11Error);
      assert.match(e4.message, /no public key 'nopub'/);
    }),
});

Deno.test({
  name: "pkcs11 signer: a missing module or a library that is not PKCS#11 is a clear error",
  ignore,
  async fn() {
    const e1 = await rejection(signerFromPkcs11Uri(
      `pkcs11:token=dz;object=k?module-path=/nonexistent/libpkcs11.so&pin-value=${PIN}`,
    ));
    assert.ok(e1 instanceof Pkcs11Error);
    assert.match(e1.message, /module \/nonexistent\/libpkcs11.so does not exist/);
    const libz = "/lib/x86_64-linux-gnu/libz.so.1";
    const hasLibz = await Deno.stat(libz).then(() => true, () => false);
    if (hasLibz) {
      const e2 = await rejection(
        signerFromPkcs11Uri(`pkcs11:token=dz;object=k?module-path=${libz}&pin-value=${PIN}`),
      );
      assert.ok(e2 instanceof Pkcs11Error);
      assert.match(e2.message, /cannot load PKCS#11 module/);
      assert.ok(!everything(e2).includes(PIN));
    }
  },
});

Deno.test({
  name: "pkcs11 signer: without --allow-ffi it says so in one line",
  ignore,
  async fn() {
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const dir = await Deno.makeTempDir();
    try {
      const script = join(dir, "no_ffi.ts");
      await Deno.writeTextFile(
        script,
        `import { signerFromPkcs11Uri } from ${
          JSON.stringify(new URL("./signer.ts", import.meta.url).href)
        };
try {
  await signerFromPkcs11Uri("pkcs11:token=dz;object=k?module-path=${SOFTHSM_MODULE}&pin-value=${PIN}");
  console.log("NO ERROR");
} catch (e) {
  console.log(JSON.stringify({ name: e.name, message: e.message, hint: e.hint }));
}
`,
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          "--config",
          join(root, "deno.json"),
          "--allow-read",
          "--allow-env",
          script,
        ],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout).trim();
      const result = JSON.parse(stdout.split("\n").at(-1)!);
      assert.equal(result.name, "Pkcs11Error");
      assert.match(result.message, /needs permission to load native code \(FFI\)/);
      assert.match(result.hint, /--allow-ffi=\/usr\/lib\/softhsm\/libsofthsm2.so /);
      assert.ok(!JSON.stringify(result).includes(PIN));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
