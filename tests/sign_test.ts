/**
 * `sign` against the real registry and the local Rekor stand-in: what it
 * writes verifies with the project's verifier, appends instead of replacing,
 * and nothing is pushed when the log entry does not verify against the
 * trusted root.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { command as sign } from "../commands/sign.ts";
import { command as genkey } from "../commands/generate-key-pair.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { buildImage } from "./helpers/image_build.ts";
import { pushImage } from "./helpers/image_push.ts";
import { RegistrySource } from "../lib/image/source.ts";
import { verifyCosignSignatures } from "../lib/signatures/verify.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { startRegistry } from "./helpers/registry.ts";
import { startLocalSigstore } from "../scripts/local_sigstore.ts";
import { findSignatures, requireWellFormed } from "../lib/image/discovery.ts";
import { capturingSinks } from "./helpers/env.ts";

/** Environment variables the commands of this file read (never set process-wide). */
const testEnv: Record<string, string | undefined> = {};

const sinks = () => capturingSinks(testEnv);

Deno.test({
  name: "sign: cosign-layout signature, logged, verified, appended",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using reg = await startRegistry();
    const sigstore = await startLocalSigstore();
    const dir = await Deno.makeTempDir();
    testEnv.COSIGN_PASSWORD = "demo-password";
    try {
      const rootPath = join(dir, "trusted_root.json");
      await sigstore.writeTrustedRoot(rootPath);
      assert.equal(await genkey.main(["--output-key-prefix", join(dir, "k")], sinks().sinks), 0);
      const client = new RegistryClient(reg.host);
      const image = await buildImage({ files: { "a": "sign me" } });
      const digest = await pushImage(client, "dz/app", image, "v1");
      const ref = `${reg.host}/dz/app@${digest}`;
      const common = ["--key", join(dir, "k.key"), "--trusted-root", rootPath];

      const s1 = sinks();
      const code = await sign.main(
        [ref, ...common, "--rekor-url", sigstore.rekorUrl, "--json", "-a", "release=1"],
        s1.sinks,
      );
      assert.equal(code, 0, s1.err.join("\n"));
      const r1 = JSON.parse(s1.out[0]);
      assert.equal(r1.signatures, 1);
      assert.equal(typeof r1.tlog[0].logIndex, "number");

      // The .sig manifest has cosign's shape.
      const sigTag = `sha256-${digest.slice(7)}.sig`;
      const sigManifest = JSON.parse(
        new TextDecoder().decode((await client.getManifest("dz/app", sigTag)).bytes),
      );
      assert.equal(sigManifest.mediaType, "application/vnd.oci.image.manifest.v1+json");
      assert.equal(
        sigManifest.layers[0].mediaType,
        "application/vnd.dev.cosign.simplesigning.v1+json",
      );
      assert.ok(sigManifest.layers[0].annotations["dev.cosignproject.cosign/signature"]);
      const bundle = JSON.parse(sigManifest.layers[0].annotations["dev.sigstore.cosign/bundle"]);
      assert.deepEqual(Object.keys(bundle), ["SignedEntryTimestamp", "Payload"]);

      // A second signature is appended with a higher log index.
      const s2 = sinks();
      assert.equal(
        await sign.main([ref, ...common, "--rekor-url", sigstore.rekorUrl, "--json"], s2.sinks),
        0,
        s2.err.join("\n"),
      );
      const r2 = JSON.parse(s2.out[0]);
      assert.equal(r2.signatures, 2);
      assert.ok(r2.tlog[0].logIndex > r1.tlog[0].logIndex);

      // Both verify with the project's verifier, fetched like upgrade does.
      const sigs = requireWellFormed(
        await findSignatures(new RegistrySource(client, "dz/app", {}), digest),
      ).map((f) => f.signature);
      assert.equal(sigs.length, 2);
      const opts = {
        trustedRoot: await loadTrustedRoot(rootPath),
        key: await loadTrustedKey(join(dir, "k.pub")),
      };
      const result = verifyCosignSignatures(sigs, digest, opts);
      assert.ok(result.ok, JSON.stringify(result.reports));
      // ...and not for another digest.
      assert.equal(verifyCosignSignatures(sigs, image.configDescriptor.digest, opts).ok, false);

      // A private log without its trusted root: a usage error naming --trusted-root; nothing pushed.
      const s3 = sinks();
      const before = (await client.getManifest("dz/app", sigTag)).digest;
      assert.equal(
        await sign.main(
          [ref, "--key", join(dir, "k.key"), "--rekor-url", sigstore.rekorUrl],
          s3.sinks,
        ),
        2,
      );
      assert.match(s3.err[0], /pass that log's trusted_root\.json with --trusted-root/);
      assert.equal((await client.getManifest("dz/app", sigTag)).digest, before);

      // Tag-only references are refused; --tlog-upload=false warns loudly.
      const s4 = sinks();
      assert.equal(await sign.main([`${reg.host}/dz/app:v1`, ...common], s4.sinks), 2);
      assert.match(s4.err[0], /names no digest/);
      const s5 = sinks();
      assert.equal(await sign.main([ref, ...common, "--tlog-upload=false"], s5.sinks), 0);
      assert.match(s5.err.join("\n"), /REFUSED by 'upgrade'/);
    } finally {
      testEnv.COSIGN_PASSWORD = undefined;
      await sigstore.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
