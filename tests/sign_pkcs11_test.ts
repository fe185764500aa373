/**
 * End to end: `sign --key pkcs11:…` with a SoftHSM2 token against the real
 * registry and the local Rekor; the project's verifier accepts what it
 * wrote with the token's public key (and only that key), and a wrong PIN
 * fails cleanly without the PIN in any output, even with --debug / --json.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { command as sign } from "../commands/sign.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { buildImage } from "./helpers/image_build.ts";
import { pushImage } from "./helpers/image_push.ts";
import { RegistrySource } from "../lib/image/source.ts";
import { verifyCosignSignatures } from "../lib/signatures/verify.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { publicKeyPem } from "../lib/keys/private_key.ts";
import { startRegistry } from "./helpers/registry.ts";
import { startLocalSigstore } from "../scripts/local_sigstore.ts";
import { createSoftHsmToken, softHsmOrSkip } from "./helpers/softhsm.ts";
import { findSignatures, requireWellFormed } from "../lib/image/discovery.ts";
import { capturingSinks } from "./helpers/env.ts";

/** Environment variables the commands of this file read (never set process-wide). */
const testEnv: Record<string, string | undefined> = {};

const PIN = "PIN-e2e-51d3";

const sinks = () => capturingSinks(testEnv);

Deno.test({
  name: "sign --key pkcs11: (SoftHSM2) pushes a signature the verifier accepts",
  ignore: softHsmOrSkip(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using reg = await startRegistry();
    await using token = await createSoftHsmToken("dz", PIN);
    const sigstore = await startLocalSigstore();
    try {
      const key = await token.importKey("signing", "01");
      const dir = token.dir;
      const rootPath = join(dir, "trusted_root.json");
      await sigstore.writeTrustedRoot(rootPath);
      await Deno.writeTextFile(join(dir, "token.pub"), key.publicPem);
      const otherPub = join(dir, "other.pub");
      await Deno.writeTextFile(
        otherPub,
        publicKeyPem(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey),
      );

      const client = new RegistryClient(reg.host);
      const image = await buildImage({ files: { "a": "sign me with a token" } });
      const digest = await pushImage(client, "dz/app", image, "v1");
      const ref = `${reg.host}/dz/app@${digest}`;
      const common = ["--trusted-root", rootPath, "--rekor-url", sigstore.rekorUrl, "--json"];

      const s1 = sinks();
      const code = await sign.main(
        [ref, "--key", token.uri("object=signing", `&pin-value=${PIN}`), ...common],
        s1.sinks,
      );
      assert.equal(code, 0, s1.err.join("\n"));
      const r1 = JSON.parse(s1.out[0]);
      assert.equal(r1.signatures, 1);
      assert.equal(typeof r1.tlog[0].logIndex, "number");
      assert.ok(!s1.out.concat(s1.err).join("\n").includes(PIN));

      // The PIN from COSIGN_PKCS11_PIN, the key by id: a second signature is appended.
      testEnv.COSIGN_PKCS11_PIN = PIN;
      const s2 = sinks();
      try {
        assert.equal(await sign.main([ref, "--key", token.uri("id=%01"), ...common], s2.sinks), 0);
      } finally {
        testEnv.COSIGN_PKCS11_PIN = undefined;
      }
      assert.equal(JSON.parse(s2.out[0]).signatures, 2, s2.err.join("\n"));

      // Both verify with the token's public key, fetched like upgrade does...
      const sigs = requireWellFormed(
        await findSignatures(new RegistrySource(client, "dz/app", {}), digest),
      ).map((f) => f.signature);
      assert.equal(sigs.length, 2);
      const trustedRoot = await loadTrustedRoot(rootPath);
      const good = verifyCosignSignatures(sigs, digest, {
        trustedRoot,
        key: await loadTrustedKey(join(dir, "token.pub")),
      });
      assert.ok(good.ok, JSON.stringify(good.reports));
      // ...and not with another key, nor for another digest.
      const otherKey = { trustedRoot, key: await loadTrustedKey(otherPub) };
      assert.equal(verifyCosignSignatures(sigs, digest, otherKey).ok, false);
      assert.equal(
        verifyCosignSignatures(sigs, image.configDescriptor.digest, {
          trustedRoot,
          key: await loadTrustedKey(join(dir, "token.pub")),
        }).ok,
        false,
      );

      // A wrong PIN: exit 3, a clear line, no PIN anywhere (even --debug), nothing pushed.
      const wrong = "WRONG-PIN-0a9c";
      const sigTag = `sha256-${digest.slice(7)}.sig`;
      const before = (await client.getManifest("dz/app", sigTag)).digest;
      const s3 = sinks();
      assert.equal(
        await sign.main(
          [
            ref,
            "--key",
            token.uri("object=signing", `&pin-value=${wrong}`),
            ...common,
            "--debug",
          ],
          s3.sinks,
        ),
        3,
      );
      const shown = s3.out.concat(s3.err).join("\n");
      assert.match(shown, /token 'dz' refused the PIN \(CKR_PIN_INCORRECT\)/);
      assert.ok(!shown.includes(wrong), shown);
      assert.ok(!shown.includes(PIN), shown);
      assert.equal((await client.getManifest("dz/app", sigTag)).digest, before);

      // Unknown key: exit 3 with a clear line.
      const s4 = sinks();
      assert.equal(
        await sign.main(
          [ref, "--key", token.uri("object=nope", `&pin-value=${PIN}`), ...common],
          s4.sinks,
        ),
        3,
      );
      assert.match(s4.err[0], /no private key 'nope' on the PKCS#11 token 'dz'/);
      // Malformed URI: exit 2.
      const s5 = sinks();
      assert.equal(
        await sign.main([ref, "--key", `pkcs11:object=signing?pin-value=${PIN}`], s5.sinks),
        2,
      );
      assert.ok(!s5.err.join("\n").includes(PIN));
    } finally {
      await sigstore.close();
    }
  },
});
