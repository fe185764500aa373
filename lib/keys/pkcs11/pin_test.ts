import assert from "node:assert/strict";
import { join } from "node:path";
import { IoError, PasswordUnavailableError, UsageError } from "../../errors/errors.ts";
import { PIN_ENV, pinSourcePath, resolvePin } from "./pin.ts";
import { parsePkcs11Uri } from "./uri.ts";

const MOD = "/usr/lib/softhsm/libsofthsm2.so";
const base = `pkcs11:token=dz;object=k?module-path=${MOD}`;
const uri = (q = "") => parsePkcs11Uri(base + q, () => undefined);
const noTerminal = {
  isTerminal: () => false,
  setRaw() {},
  read: () => Promise.resolve(null),
};

Deno.test("pkcs11 pin: pin-value, then pin-source, then COSIGN_PKCS11_PIN", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "pin");
    await Deno.writeTextFile(file, "from-file\r\n");
    const env = (n: string) => (n === PIN_ENV ? "from-env" : undefined);
    const sources = { env, input: noTerminal };
    assert.equal(await resolvePin(uri("&pin-value=from-uri"), true, sources), "from-uri");
    assert.equal(await resolvePin(uri(`&pin-source=file:${file}`), true, sources), "from-file");
    assert.equal(await resolvePin(uri(`&pin-source=${file}`), true, sources), "from-file");
    assert.equal(await resolvePin(uri(), true, sources), "from-env");
    // An empty COSIGN_PKCS11_PIN counts as unset (as cosign).
    const empty = { env: () => "", input: noTerminal };
    assert.equal(await resolvePin(uri(), false, empty), undefined);
    await assert.rejects(resolvePin(uri(), true, empty), PasswordUnavailableError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pkcs11 pin: no PIN and no login required means no login; required and no TTY fails", async () => {
  const sources = { env: () => undefined, input: noTerminal };
  assert.equal(await resolvePin(uri(), false, sources), undefined);
  await assert.rejects(resolvePin(uri(), true, sources), (e: unknown) => {
    assert.ok(e instanceof PasswordUnavailableError);
    assert.match(e.message, /token 'dz' needs a PIN and there is no terminal/);
    assert.match(e.hint!, /COSIGN_PKCS11_PIN/);
    return true;
  });
});

Deno.test("pkcs11 pin: prompt reads an echo-less line and never shows it", async () => {
  const written: string[] = [];
  const raw: boolean[] = [];
  const typed = new TextEncoder().encode("12x\x7f34\r");
  let done = false;
  const pin = await resolvePin(uri(), true, {
    env: () => undefined,
    prompt: (t) => written.push(t),
    input: {
      isTerminal: () => true,
      setRaw: (m) => raw.push(m),
      read(buf) {
        if (done) return Promise.resolve(null);
        done = true;
        buf.set(typed);
        return Promise.resolve(typed.length);
      },
    },
  });
  assert.equal(pin, "1234");
  assert.deepEqual(raw, [true, false]);
  assert.match(written[0], /^Enter PIN for key 'k' in PKCS11 token 'dz': $/);
  assert.ok(!written.join("").includes("1234"));
});

Deno.test("pkcs11 pin: pin-source must be a local absolute path; unreadable is an IoError", async () => {
  assert.equal(pinSourcePath("file:/etc/pin"), "/etc/pin");
  assert.equal(pinSourcePath("file:///etc/pin"), "/etc/pin");
  assert.equal(pinSourcePath("file://localhost/etc/pin"), "/etc/pin");
  assert.equal(pinSourcePath("/etc/pin"), "/etc/pin");
  assert.throws(() => pinSourcePath("file://evil.example/etc/pin"), UsageError);
  assert.throws(() => pinSourcePath("pin.txt"), UsageError);
  assert.throws(() => pinSourcePath("https://example.com/pin"), UsageError);
  await assert.rejects(
    resolvePin(uri("&pin-source=/nonexistent/dz-pin"), true, { input: noTerminal }),
    (e: unknown) => {
      assert.ok(e instanceof IoError);
      assert.match(e.message, /cannot read the PIN file \/nonexistent\/dz-pin/);
      return true;
    },
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(join(dir, "big"), new Uint8Array(10_000));
    await assert.rejects(
      resolvePin(uri(`&pin-source=${join(dir, "big")}`), true, { input: noTerminal }),
      UsageError,
    );
    await assert.rejects(
      resolvePin(uri(`&pin-source=${dir}`), true, { input: noTerminal }),
      UsageError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
