/**
 * Test support: a fresh SoftHSM2 token in a temporary directory, with keys
 * imported from PKCS#8 PEMs made by `node:crypto`. SoftHSM, loaded in
 * this process by FFI, reads only the process's `SOFTHSM2_CONF` (at every
 * `C_Initialize`), so this is the one place a test sets a process-wide
 * variable: a token holds an exclusive lock on {@linkcode LOCK_FILE} from
 * creation to disposal, so test files running in parallel use SoftHSM one at
 * a time, and nothing else reads the variable. One token at a time per file.
 *
 * @module
 */

import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { join } from "node:path";
import { publicKeyPem } from "../../lib/keys/private_key.ts";

/** Where Debian's softhsm2 package puts the module. */
export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";
const UTIL = "softhsm2-util";
/** Serializes SoftHSM users across the test files of one `deno test --parallel` run. */
export const LOCK_FILE = join(Deno.env.get("TMPDIR") || "/tmp", "dz-softhsm-test.lock");

/** Is SoftHSM2 installed here? */
export function softHsmPresent(): boolean {
  try {
    Deno.statSync(SOFTHSM_MODULE);
    return new Deno.Command(UTIL, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/**
 * The `ignore` value for a test needing SoftHSM2: skipped (with a note)
 * when it is missing, except under `CI=true` where that must fail.
 */
export function softHsmOrSkip(): boolean {
  if (softHsmPresent()) return false;
  if (Deno.env.get("CI") === "true") return false;
  console.error(`SoftHSM2 (${SOFTHSM_MODULE}) missing: skipping; run scripts/install_deps.sh`);
  return true;
}

/** A key imported on the test token. */
export interface ImportedKey {
  label: string;
  /** Hex `CKA_ID`. */
  id: string;
  privateKey: KeyObject;
  publicPem: string;
}

/** A temporary SoftHSM2 token. */
export interface SoftHsmToken extends AsyncDisposable {
  dir: string;
  conf: string;
  label: string;
  pin: string;
  /** Import a key (default: a new EC P-256 key). */
  importKey(
    label: string,
    id: string,
    options?: { key?: KeyObject; noPublicKey?: boolean },
  ): Promise<ImportedKey>;
  /** `pkcs11:token=<label>;<path>?module-path=…<query>` */
  uri(path: string, query?: string): string;
}

async function run(args: string[], conf: string): Promise<string> {
  const out = await new Deno.Command(UTIL, {
    args,
    env: { SOFTHSM2_CONF: conf },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${UTIL} ${args[0]} failed: ${text}`);
  return text;
}

/** Create and initialise a token; sets `SOFTHSM2_CONF` for this process. */
export async function createSoftHsmToken(
  label = "dz",
  pin = "1234",
  soPin = "5678",
): Promise<SoftHsmToken> {
  const lock = await Deno.open(LOCK_FILE, { create: true, write: true });
  await lock.lock(true);
  const dir = await Deno.makeTempDir({ prefix: "dz-softhsm-" });
  const tokens = join(dir, "tokens");
  await Deno.mkdir(tokens);
  const conf = join(dir, "softhsm2.conf");
  await Deno.writeTextFile(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  try {
    await run(["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", soPin], conf);
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    lock.close();
    throw e;
  }
  const previous = Deno.env.get("SOFTHSM2_CONF");
  Deno.env.set("SOFTHSM2_CONF", conf);
  return {
    dir,
    conf,
    label,
    pin,
    async importKey(keyLabel, id, options = {}) {
      const privateKey = options.key ??
        generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
      const file = join(dir, `import-${crypto.randomUUID()}.pem`);
      await Deno.writeTextFile(
        file,
        privateKey.export({ type: "pkcs8", format: "pem" }) as string,
        { mode: 0o600 },
      );
      try {
        await run([
          "--import",
          file,
          "--token",
          label,
          "--label",
          keyLabel,
          "--id",
          id,
          "--pin",
          pin,
          "--force",
          ...(options.noPublicKey ? ["--no-public-key"] : []),
        ], conf);
      } finally {
        await Deno.remove(file);
      }
      return { label: keyLabel, id, privateKey, publicPem: publicKeyPem(privateKey) };
    },
    uri(path, query = "") {
      return `pkcs11:token=${label};${path}?module-path=${SOFTHSM_MODULE}${query}`;
    },
    async [Symbol.asyncDispose]() {
      if (previous === undefined) Deno.env.delete("SOFTHSM2_CONF");
      else Deno.env.set("SOFTHSM2_CONF", previous);
      await Deno.remove(dir, { recursive: true });
      lock.close(); // releases the lock
    },
  };
}
