/**
 * `sign-blob`: a message-signature bundle logged in the local Rekor that the
 * project's `verify-bundle` accepts for the file (and only for it); a Rekor
 * that is not in the trusted root, or that alters its answer on the way,
 * gets nothing written.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { command as signBlob } from "../commands/sign-blob.ts";
import { command as verifyBundle } from "../commands/verify-bundle.ts";
import { startLocalSigstore } from "../scripts/local_sigstore.ts";
import { generateCosignKeyPair } from "../lib/keys/private_key.ts";
import { envWith } from "./helpers/env.ts";

/** Environment variables the commands of this file read (never set process-wide). */
const testEnv: Record<string, string | undefined> = {};

async function run(cmd: typeof signBlob, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cmd.main(args, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: envWith(testEnv),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** A Rekor "in the middle": forwards to `upstream`, then lets `edit` change the answer. */
function alteringRekor(upstream: string, edit: (entry: Record<string, unknown>) => void) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const res = await fetch(`${upstream}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      body: req.body,
    });
    const doc = await res.json() as Record<string, Record<string, unknown>>;
    for (const entry of Object.values(doc)) if (entry && typeof entry === "object") edit(entry);
    return Response.json(doc, { status: res.status });
  });
}

Deno.test({
  name: "sign-blob: a logged bundle that verify-bundle accepts offline, for that file only",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ss = await startLocalSigstore();
    const dir = await Deno.makeTempDir();
    testEnv.COSIGN_PASSWORD = "pw";
    try {
      const root = join(dir, "trusted_root.json");
      await ss.writeTrustedRoot(root);
      const pair = await generateCosignKeyPair("pw");
      const key = join(dir, "cosign.key");
      const pub = join(dir, "cosign.pub");
      await Deno.writeTextFile(key, pair.privateKeyPem);
      await Deno.writeTextFile(pub, pair.publicKeyPem);
      const file = join(dir, "artifact.txt");
      await Deno.writeTextFile(file, "release contents\n");
      const out = join(dir, "artifact.txt.sigstore.json");

      const r = await run(signBlob, [
        file,
        "--key",
        key,
        "--bundle",
        out,
        "--rekor-url",
        ss.rekorUrl,
        "--trusted-root",
        root,
        "--json",
      ]);
      assert.equal(r.code, 0, r.err);
      const j = JSON.parse(r.out);
      assert.equal(j.ok, true);
      assert.ok(Number.isSafeInteger(j.tlog[0].logIndex));
      const bundle = JSON.parse(await Deno.readTextFile(out));
      assert.equal(bundle.mediaType, "application/vnd.dev.sigstore.bundle.v0.3+json");
      assert.ok(bundle.messageSignature, "a message signature, not DSSE");
      assert.equal(bundle.verificationMaterial.tlogEntries.length, 1);
      assert.deepEqual(bundle.verificationMaterial.tlogEntries[0].kindVersion, {
        kind: "hashedrekord",
        version: "0.0.1",
      });
      assert.ok(bundle.verificationMaterial.publicKey.hint);

      // The project's verifier, offline, with the public key.
      const ok = await run(verifyBundle, [
        "--bundle",
        out,
        "--key",
        pub,
        "--trusted-root",
        root,
        file,
      ]);
      assert.equal(ok.code, 0, ok.err);
      assert.match(ok.out, /Verified OK: .* logged: hashedrekord\/0\.0\.1 #\d+/);

      // Another file's bytes, or another key: refused.
      const other = join(dir, "other.txt");
      await Deno.writeTextFile(other, "release contents!\n");
      const bad = await run(verifyBundle, [
        "--bundle",
        out,
        "--key",
        pub,
        "--trusted-root",
        root,
        other,
      ]);
      assert.equal(bad.code, 1, bad.out + bad.err);
      const pair2 = await generateCosignKeyPair("pw");
      const pub2 = join(dir, "other.pub");
      await Deno.writeTextFile(pub2, pair2.publicKeyPem);
      const wrongKey = await run(verifyBundle, [
        "--bundle",
        out,
        "--key",
        pub2,
        "--trusted-root",
        root,
        file,
      ]);
      assert.equal(wrongKey.code, 1, wrongKey.out + wrongKey.err);

      // Usage errors: exit 2, nothing written.
      const noBundle = await run(signBlob, [file, "--key", key, "--rekor-url", ss.rekorUrl]);
      assert.equal(noBundle.code, 2);
      const noKey = await run(signBlob, [file, "--bundle", join(dir, "x.json")]);
      assert.equal(noKey.code, 2);
      assert.equal(await exists(join(dir, "x.json")), false);
    } finally {
      testEnv.COSIGN_PASSWORD = undefined;
      await ss.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "sign-blob: an untrusted or altering Rekor gets no bundle written (exit 1)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ss = await startLocalSigstore();
    const dir = await Deno.makeTempDir();
    testEnv.COSIGN_PASSWORD = "pw";
    const servers: Deno.HttpServer<Deno.NetAddr>[] = [];
    try {
      const root = join(dir, "trusted_root.json");
      await ss.writeTrustedRoot(root);
      const pair = await generateCosignKeyPair("pw");
      const key = join(dir, "cosign.key");
      await Deno.writeTextFile(key, pair.privateKeyPem);
      const file = join(dir, "artifact.bin");
      await Deno.writeFile(file, crypto.getRandomValues(new Uint8Array(4096)));
      const out = join(dir, "artifact.bin.sigstore.json");

      // The local Rekor, but checked against the public-good root (default): not trusted.
      const untrusted = await run(signBlob, [
        file,
        "--key",
        key,
        "--bundle",
        out,
        "--rekor-url",
        ss.rekorUrl,
      ]);
      assert.equal(untrusted.code, 1, untrusted.err);
      assert.equal(await exists(out), false, "nothing written");

      // A Rekor in the middle that moves the entry's log position or time.
      for (
        const edit of [
          (e: Record<string, unknown>) => (e.logIndex = (e.logIndex as number) + 1000),
          (
            e: Record<string, unknown>,
          ) => (e.integratedTime = (e.integratedTime as number) - 86_400),
        ]
      ) {
        await Deno.writeFile(file, crypto.getRandomValues(new Uint8Array(4096))); // a new entry
        const mitm = alteringRekor(ss.rekorUrl, edit);
        servers.push(mitm);
        const r = await run(signBlob, [
          file,
          "--key",
          key,
          "--bundle",
          out,
          "--rekor-url",
          `http://127.0.0.1:${mitm.addr.port}`,
          "--trusted-root",
          root,
        ]);
        assert.equal(r.code, 1, r.err);
        assert.equal(r.err.trim().split("\n").length, 1, r.err);
        assert.equal(await exists(out), false, "nothing written");
      }
    } finally {
      testEnv.COSIGN_PASSWORD = undefined;
      for (const s of servers) await s.shutdown();
      await ss.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
