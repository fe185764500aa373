/**
 * `sign --bundle`: a cosign v3 signature attached as a referrer of the
 * image, found through the fallback tag index, verifying as an image
 * signature with the public key; refused without the transparency log.
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { join } from "node:path";
import { command as sign } from "../commands/sign.ts";
import { startRegistry } from "./helpers/registry.ts";
import { startLocalSigstore } from "../scripts/local_sigstore.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { pushImage } from "./helpers/image_push.ts";
import { buildImage } from "./helpers/image_build.ts";
import { RegistrySource } from "../lib/image/source.ts";
import { verifyBundleSignature } from "../lib/signatures/bundle_signature.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { findBundles } from "../lib/image/discovery.ts";

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await sign.main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test({
  name: "sign --bundle: a referrer bundle that verifies as the image's signature",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using reg = await startRegistry();
    const ss = await startLocalSigstore();
    const dir = await Deno.makeTempDir();
    const client = new RegistryClient(reg.host);
    try {
      const rootPath = join(dir, "root.json");
      await ss.writeTrustedRoot(rootPath);
      const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
      const keyPath = join(dir, "plain.key");
      const pubPath = join(dir, "plain.pub");
      await Deno.writeTextFile(
        keyPath,
        privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      );
      await Deno.writeTextFile(
        pubPath,
        publicKey.export({ type: "spki", format: "pem" }) as string,
      );
      const digest = await pushImage(client, "dz/s", await buildImage({ files: { a: "1" } }), "v1");
      const common = ["--key", keyPath, "--trusted-root", rootPath, "--rekor-url", ss.rekorUrl];

      let r = await run([`${reg.host}/dz/s@${digest}`, ...common, "--bundle", "--json"]);
      assert.equal(r.code, 0, r.err);
      const j = JSON.parse(r.out);
      assert.equal(j.bundles, 1);
      assert.ok(Number.isSafeInteger(j.tlog[0].logIndex));

      const found = await findBundles(new RegistrySource(client, "dz/s", {}), digest);
      assert.equal(found.length, 1);
      assert.ok(found[0].ok);
      const v = verifyBundleSignature(found[0].bundle, digest, {
        trustedRoot: await loadTrustedRoot(rootPath),
        key: await loadTrustedKey(pubPath),
      });
      assert.equal(v.tlog.logIndex, j.tlog[0].logIndex);

      // Without the log, or with annotations: usage errors, nothing pushed.
      r = await run([`${reg.host}/dz/s@${digest}`, ...common, "--bundle", "--tlog-upload=false"]);
      assert.equal(r.code, 2);
      r = await run([`${reg.host}/dz/s@${digest}`, ...common, "--bundle", "-a", "k=v"]);
      assert.equal(r.code, 2);
      assert.equal(
        (await findBundles(new RegistrySource(client, "dz/s", {}), digest)).length,
        1,
      );
    } finally {
      client.close();
      await ss.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
