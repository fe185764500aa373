import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import { Buffer } from "node:buffer";
import { command } from "./generate-key-pair.ts";
import { signerFromKeyFile } from "../lib/keys/signer.ts";
import { fixedPasswordProvider } from "../lib/keys/password.ts";
import { decodePem } from "../lib/keys/pem.ts";

/** The COSIGN_PASSWORD the command sees (passed as its env, never set process-wide). */
let password: string | undefined;

function sinks() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    sinks: {
      out: (t: string) => void out.push(t),
      err: (t: string) => void err.push(t),
      env: (name: string) => name === "COSIGN_PASSWORD" ? password : Deno.env.get(name),
    },
  };
}

async function withPassword(value: string | undefined, fn: () => Promise<void>): Promise<void> {
  password = value;
  try {
    await fn();
  } finally {
    password = undefined;
  }
}

Deno.test("generate-key-pair end to end: files, mode, usable key, refuses to overwrite", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withPassword("e2e pass", async () => {
      const s = sinks();
      const code = await command.main(["--output-key-prefix", `${dir}/k`], s.sinks);
      assert.equal(code, 0, s.err.join("\n"));
      assert.deepEqual(s.out, [
        `Private key written to ${dir}/k.key\nPublic key written to ${dir}/k.pub`,
      ]);
      const keyText = await Deno.readTextFile(`${dir}/k.key`);
      const pubText = await Deno.readTextFile(`${dir}/k.pub`);
      assert.equal(decodePem(keyText, "k").label, "ENCRYPTED SIGSTORE PRIVATE KEY");
      assert.equal(decodePem(pubText, "p").label, "PUBLIC KEY");
      if (Deno.build.os !== "windows") {
        assert.equal((await Deno.stat(`${dir}/k.key`)).mode! & 0o777, 0o600);
      }
      // The key works with the password that was set, and matches the .pub.
      const signer = await signerFromKeyFile(`${dir}/k.key`, fixedPasswordProvider("e2e pass"));
      const msg = new TextEncoder().encode("payload");
      const sig = await signer.sign(msg);
      assert.ok(verify("sha256", Buffer.from(msg), createPublicKey(pubText), Buffer.from(sig)));

      // A second run refuses, exit non-zero, files unchanged, secret not printed.
      const again = sinks();
      const code2 = await command.main(["--output-key-prefix", `${dir}/k`], again.sinks);
      assert.equal(code2, 3);
      assert.match(again.err.join("\n"), /already exists; refusing to overwrite/);
      assert.deepEqual(again.out, []);
      assert.equal(await Deno.readTextFile(`${dir}/k.key`), keyText);
      assert.equal(await Deno.readTextFile(`${dir}/k.pub`), pubText);
      assert.ok(!again.err.join("").includes("e2e pass"));
      assert.ok(!s.out.join("").includes("e2e pass"));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generate-key-pair --json prints the two paths", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withPassword("", async () => {
      const s = sinks();
      const code = await command.main(["--json", "--output-key-prefix", `${dir}/j`], s.sinks);
      assert.equal(code, 0, s.err.join("\n"));
      assert.deepEqual(JSON.parse(s.out.join("")), {
        ok: true,
        privateKey: `${dir}/j.key`,
        publicKey: `${dir}/j.pub`,
      });
      assert.ok((await Deno.stat(`${dir}/j.pub`)).isFile);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "generate-key-pair without COSIGN_PASSWORD and no terminal: exit 2, nothing written",
  ignore: Deno.stdin.isTerminal(),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await withPassword(undefined, async () => {
        const s = sinks();
        const code = await command.main(["--output-key-prefix", `${dir}/n`], s.sinks);
        assert.equal(code, 2);
        assert.match(s.err.join("\n"), /COSIGN_PASSWORD/);
        const names = [];
        for await (const e of Deno.readDir(dir)) names.push(e.name);
        assert.deepEqual(names, []);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("generate-key-pair rejects positional arguments and an empty prefix", async () => {
  const s = sinks();
  assert.equal(await command.main(["extra"], s.sinks), 2);
  assert.equal(await command.main(["--output-key-prefix", ""], s.sinks), 2);
});
