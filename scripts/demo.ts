/**
 * The main job, end to end, on this machine only (loopback):
 * starts a real registry (CNCF distribution) and the local Sigstore
 * stand-in, makes a signing key, builds and publishes a sample image,
 * signs it, and runs every command against it, showing each command line
 * and what it printed. Exits non-zero if any step does not end as expected.
 *
 * Run: `bash scripts/demo.sh` (installs what is missing) or `deno task demo`.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRegistry } from "../tests/helpers/registry.ts";
import { canStartDockerd, startDockerd } from "../tests/helpers/dockerd.ts";
import { startLocalSigstore } from "./local_sigstore.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { buildImage } from "../tests/helpers/image_build.ts";
import { pushImage } from "../tests/helpers/image_push.ts";
import { OCI_INDEX } from "../lib/oci/media_types.ts";
import { RegistrySource } from "../lib/image/source.ts";
import { toCosignDownloadJson } from "../lib/signatures/cosign_list.ts";
import {
  fulcioLeaf,
  ISSUER,
  keyPair,
  messageBundle,
  SUBJECT,
} from "../tests/helpers/bundle_fixtures.ts";
import { findSignatures, requireWellFormed } from "../lib/image/discovery.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MOD = join(ROOT, "mod.ts");
const TESTDATA = join(ROOT, "..", "shared", "testdata");

const bold = (s: string) => Deno.stdout.isTerminal() ? `\x1b[1m${s}\x1b[0m` : s;
const results: { step: string; ok: boolean; note: string }[] = [];

/** `s` quoted for a POSIX shell when it needs it. */
function shq(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line as a user can paste it: the environment it sets, then
 * `dangerzone-image` (the shim the demo writes; see the start of the output).
 */
function shown(args: string[], env: Record<string, string> = {}, stdin?: string): string {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${shq(v)}`);
  const line = [...vars, "dangerzone-image", ...args.map(shq)].join(" ");
  return stdin !== undefined ? `printf %s ${shq(stdin)} | ${line}` : line;
}

/** Run `dangerzone-image ARGS`, show it, check the exit code. */
async function dz(
  step: string,
  args: string[],
  opts: { expect?: number; env?: Record<string, string>; stdin?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const expect = opts.expect ?? 0;
  console.log(`\n${bold(`== ${step}`)}\n$ ${shown(args, opts.env, opts.stdin)}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", MOD, ...args],
    env: { ...opts.env, NO_COLOR: "1" },
    stdin: opts.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  for (const line of stdout.trimEnd().split("\n")) if (line) console.log(`  ${line}`);
  for (const line of stderr.trimEnd().split("\n")) if (line) console.log(`  [stderr] ${line}`);
  const notBuilt = out.code === 3 && /not implemented yet/.test(stderr);
  const ok = out.code === expect;
  results.push({
    step,
    ok,
    note: notBuilt ? "not built yet" : `exit ${out.code}${ok ? "" : `, expected ${expect}`}`,
  });
  console.log(
    `  -> exit ${out.code} ${
      ok ? "(as expected)" : notBuilt ? "(NOT BUILT YET)" : `(EXPECTED ${expect})`
    }`,
  );
  return { code: out.code, stdout, stderr };
}

async function onPath(cmd: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v ${cmd}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

async function main(): Promise<number> {
  const work = await Deno.makeTempDir({ prefix: "dz-demo-" });
  console.log(bold("dangerzone-image demo") + `  (work dir ${work})`);
  // A `dangerzone-image` shim, so every printed command can be pasted as it is.
  const shim = `${work}/bin/dangerzone-image`;
  await Deno.mkdir(`${work}/bin`);
  await Deno.writeTextFile(
    shim,
    `#!/bin/sh\nexec ${shq(Deno.execPath())} run --allow-all --quiet ${shq(MOD)} "$@"\n`,
    { mode: 0o755 },
  );
  console.log(`to run the commands below yourself: export PATH=${shq(`${work}/bin`)}:"$PATH"`);
  await using reg = await startRegistry();
  await using authReg = await startRegistry({ auth: "htpasswd" });
  await using mirror = await startRegistry();
  const sigstore = await startLocalSigstore();
  try {
    const trustedRoot = join(work, "trusted_root.json");
    await sigstore.writeTrustedRoot(trustedRoot);
    console.log(`registry:  ${reg.url} (docker-registry, storage ${reg.storageDir})`);
    console.log(`rekor:     ${sigstore.rekorUrl} (local stand-in; trusted root ${trustedRoot})`);
    const env = {
      COSIGN_PASSWORD: "demo-password",
      DANGERZONE_IMAGE_DATA_DIR: join(work, "data"),
      REGISTRY_AUTH_FILE: join(work, "auth.json"),
    };
    const trust = ["--trusted-root", trustedRoot];
    const runtime = ["--runtime", `oci:${join(work, "images")}`];
    // Dangerzone's image path (ghcr.io/freedomofpress/dangerzone/v1), on the local registry.
    const repoPath = "freedomofpress/dangerzone/v1";
    const repo = `${reg.host}/${repoPath}`;

    await dz("make a signing key", [
      "generate-key-pair",
      "--output-key-prefix",
      join(work, "release"),
    ], { env });
    const key = join(work, "release.key");
    const pub = join(work, "release.pub");

    // Publish v1 (the library's own client; the tool has no 'push').
    const client = new RegistryClient(reg.host);
    const v1 = await buildImage({
      files: { "etc/dangerzone-version": "1.0\n" },
      labels: { version: "1.0" },
    });
    const d1 = await pushImage(client, repoPath, v1);
    console.log(`\n${bold("== publish sample image v1")}\n  ${repo}@${d1}`);

    await dz("sign v1 (logged in the local Rekor)", [
      "sign",
      "--key",
      key,
      "--rekor-url",
      sigstore.rekorUrl,
      ...trust,
      `${repo}@${d1}`,
    ], { env });
    await dz("refuse to sign a tag", ["sign", "--key", key, `${repo}:latest`], { env, expect: 2 });
    await dz("move latest to v1", ["tag", `${repo}@${d1}`, "latest"], { env });

    const sigFile = join(work, "v1-signatures.json");
    const sigs = requireWellFormed(
      await findSignatures(
        new RegistrySource(client, repoPath, {}),
        d1,
      ),
    ).map((f) => f.signature);
    await Deno.writeTextFile(sigFile, toCosignDownloadJson(sigs));
    await dz("verify the saved signature list offline", [
      "verify-signatures",
      "--key",
      pub,
      ...trust,
      sigFile,
      "--digest",
      d1,
    ], { env });
    await dz("...and refuse it for another digest", [
      "verify-signatures",
      "--key",
      pub,
      ...trust,
      sigFile,
      "--digest",
      v1.configDescriptor.digest,
    ], { env, expect: 1 });

    await dz("upgrade: install v1", ["upgrade", "--key", pub, ...trust, ...runtime, repo], { env });
    await dz("upgrade again: already up to date", [
      "upgrade",
      "--key",
      pub,
      ...trust,
      ...runtime,
      repo,
    ], { env });
    await dz(
      "verify-local",
      ["verify-local", "--key", pub, ...trust, ...runtime, `${repo}:latest`],
      { env },
    );

    const v2 = await buildImage({
      files: { "etc/dangerzone-version": "2.0\n" },
      labels: { version: "2.0" },
    });
    const d2 = await pushImage(client, repoPath, v2);
    console.log(`\n${bold("== publish sample image v2")}\n  ${repo}@${d2}`);
    await dz("an unsigned v2 becomes latest", ["tag", `${repo}@${d2}`, "latest"], { env });
    await dz("upgrade refuses the unsigned latest", [
      "upgrade",
      "--key",
      pub,
      ...trust,
      ...runtime,
      repo,
    ], {
      env,
      expect: 1,
    });
    await dz("sign v2", [
      "sign",
      "--key",
      key,
      "--rekor-url",
      sigstore.rekorUrl,
      ...trust,
      `${repo}@${d2}`,
    ], { env });
    await dz("upgrade: v1 -> v2", ["upgrade", "--key", pub, ...trust, ...runtime, repo], { env });
    await dz("an attacker moves latest back to v1", ["tag", `${repo}@${d1}`, "latest"], { env });
    await dz(
      "upgrade refuses the rollback",
      ["upgrade", "--key", pub, ...trust, ...runtime, repo],
      { env, expect: 1 },
    );
    await dz("put latest back on v2", ["tag", `${repo}@${d2}`, "latest"], { env });

    const archive = join(work, "dangerzone-v2.tar");
    await dz("prepare an air-gap archive of v2", [
      "prepare-archive",
      "--key",
      pub,
      ...trust,
      "--output",
      archive,
      `${repo}@${d2}`,
    ], { env });
    const offline = { ...env, DANGERZONE_IMAGE_DATA_DIR: join(work, "airgapped") };
    await dz("load it on the 'air-gapped' side", [
      "load-archive",
      "--key",
      pub,
      ...trust,
      "--runtime",
      `oci:${join(work, "airgapped-images")}`,
      archive,
    ], { env: offline });

    // A multi-arch release, signed the way Dangerzone's release is: the index and each
    // platform manifest (one log entry each).
    const multiPath = "freedomofpress/dangerzone/multi";
    const multi = `${reg.host}/${multiPath}`;
    const platforms = [["amd64", undefined], ["arm64", "v8"]] as const;
    const entries = [];
    for (const [architecture, variant] of platforms) {
      const img = await buildImage({
        files: { "etc/dangerzone-version": `3.0 ${architecture}\n` },
        architecture,
      });
      await pushImage(client, multiPath, img);
      entries.push({
        ...img.manifestDescriptor,
        platform: { os: "linux", architecture, ...(variant ? { variant } : {}) },
      });
    }
    const indexBytes = new TextEncoder().encode(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }),
    );
    const dIndex = await client.putManifest(multiPath, "latest", indexBytes, OCI_INDEX);
    console.log(
      `\n${bold("== publish a multi-arch index (linux/amd64, linux/arm64)")}\n  ${multi}@${dIndex}`,
    );
    await dz("sign --recursive: the index and every platform manifest", [
      "sign",
      "--key",
      key,
      "--rekor-url",
      sigstore.rekorUrl,
      ...trust,
      "--recursive",
      `${multi}@${dIndex}`,
    ], { env });
    await dz("upgrade the multi-arch image (this machine's platform)", [
      "upgrade",
      "--key",
      pub,
      ...trust,
      ...runtime,
      multi,
    ], { env });
    await dz("store-signatures (verify and store, install nothing)", [
      "store-signatures",
      "--key",
      pub,
      ...trust,
      multi,
    ], { env: { ...env, DANGERZONE_IMAGE_DATA_DIR: join(work, "sigs-only") } });
    const mirrored = `${mirror.host}/dangerzone/multi`;
    await dz("copy to a second registry (a mirror for a fleet), verified first", [
      "copy",
      "--key",
      pub,
      ...trust,
      `${multi}:latest`,
      mirrored,
    ], { env });
    const fleet = { ...env, DANGERZONE_IMAGE_DATA_DIR: join(work, "fleet") };
    const fleetRuntime = ["--runtime", `oci:${join(work, "fleet-images")}`];
    await dz("upgrade from the mirror without --signed-identity is refused", [
      "upgrade",
      "--key",
      pub,
      ...trust,
      ...fleetRuntime,
      mirrored,
    ], { env: fleet, expect: 1 });
    await dz("upgrade from the mirror, accepting the original repository's signatures", [
      "upgrade",
      "--key",
      pub,
      ...trust,
      ...fleetRuntime,
      "--signed-identity",
      multi,
      mirrored,
    ], { env: fleet });
    const unsignedPath = "freedomofpress/dangerzone/unsigned";
    await pushImage(client, unsignedPath, await buildImage({ files: { x: "unsigned" } }), "latest");
    await dz("copy refuses an unsigned image (nothing written to the mirror)", [
      "copy",
      "--key",
      pub,
      ...trust,
      `${reg.host}/${unsignedPath}`,
      `${mirror.host}/dangerzone/unsigned`,
    ], { env, expect: 1 });

    // Real signatures from Dangerzone's test assets, logged in the public-good Rekor:
    // verified offline against the embedded public-good trusted root.
    const dzKey = join(TESTDATA, "dangerzone", "test.pub.key");
    const keyDir = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";
    const realSig = "19e8eacd75879d05f6621c2ea8dd955e68ee3e07b41b9d53f4c8cc9929a68a67";
    try {
      await Deno.stat(dzKey);
      await dz("real Dangerzone signatures, public-good root, offline", [
        "verify-signatures",
        "--key",
        dzKey,
        join(TESTDATA, "dangerzone", "signatures", "valid", keyDir, `${realSig}.json`),
        "--digest",
        `sha256:${realSig}`,
      ], { env });
      await dz("...a tampered one is refused", [
        "verify-signatures",
        "--key",
        dzKey,
        join(TESTDATA, "dangerzone", "signatures", "tampered", keyDir, `${realSig}.json`),
        "--digest",
        `sha256:${realSig}`,
      ], { env, expect: 1 });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      console.log("\n(skipping the real-signature steps: ../shared/testdata is not here)");
    }

    const layout = join(
      TESTDATA,
      "slsa-github-generator",
      "v1.10.0",
      "container_workflow_dispatch",
    );
    try {
      const digest = (await Deno.readTextFile(`${layout}.digest`)).trim();
      await dz("SLSA provenance of a real GitHub-built image (offline)", [
        "attest-provenance",
        `oci:${layout}@${digest}`,
        "--repository",
        "slsa-framework/example-package",
      ], { env });
      await dz("...wrong repository is refused", [
        "attest-provenance",
        `oci:${layout}@${digest}`,
        "--repository",
        "freedomofpress/dangerzone",
      ], { env, expect: 1 });
    } catch {
      console.log("\n(skipping attest-provenance: ../shared/testdata is not here)");
    }

    // The same upgrade into a real container runtime (podman, root, vfs storage).
    if (await onPath("podman")) {
      const pm = join(work, "podman");
      await Deno.mkdir(pm);
      const conf = join(pm, "storage.conf");
      await Deno.writeTextFile(
        conf,
        `[storage]\ndriver = "vfs"\ngraphroot = "${pm}/graph"\nrunroot = "${pm}/run"\n`,
      );
      const penv = {
        ...env,
        CONTAINERS_STORAGE_CONF: conf,
        DANGERZONE_IMAGE_DATA_DIR: join(work, "data-podman"),
      };
      await dz("upgrade into podman", [
        "upgrade",
        "--key",
        pub,
        ...trust,
        "--runtime",
        "podman",
        repo,
      ], { env: penv });
      await dz("verify-local against podman's image", [
        "verify-local",
        "--key",
        pub,
        ...trust,
        "--runtime",
        "podman",
        `${repo}:latest`,
      ], { env: penv });
    } else {
      console.log("\n(skipping the podman steps: podman is not on PATH)");
    }

    // The same into Docker Engine: the daemon DOCKER_HOST names if it answers,
    // else (as root, dockerd installed) a private one on its own socket.
    const dockerAnswers = await onPath("docker") &&
      (await new Deno.Command("docker", {
        args: ["version", "--format", "{{.Server.Version}}"],
        stdout: "null",
        stderr: "null",
      }).output()).success;
    const engine = !dockerAnswers && canStartDockerd() ? await startDockerd() : undefined;
    try {
      if (dockerAnswers || engine) {
        const denv = {
          ...env,
          ...(engine?.env ?? {}),
          DANGERZONE_IMAGE_DATA_DIR: join(work, "data-docker"),
        };
        const docker = ["--key", pub, ...trust, "--runtime", "docker"];
        await dz("upgrade into docker", ["upgrade", ...docker, repo], { env: denv });
        await dz("verify-local --deep against docker's image", [
          "verify-local",
          ...docker,
          "--deep",
          `${repo}:latest`,
        ], { env: denv });
      } else {
        console.log("\n(skipping the docker steps: no Docker daemon answers)");
      }
    } finally {
      await engine?.stop();
    }

    // A Sigstore bundle for a file, key-signed and keyless, logged in the local Rekor.
    const artifact = join(work, "release-notes.txt");
    const notes = new TextEncoder().encode("dangerzone 2.0 release notes\n");
    await Deno.writeFile(artifact, notes);
    const kp = keyPair();
    const keyBundle = join(work, "notes.key.sigstore.json");
    await Deno.writeTextFile(keyBundle, JSON.stringify(await messageBundle(sigstore, notes, kp)));
    await Deno.writeTextFile(join(work, "notes.pub"), kp.pem);
    await dz("verify-bundle (key)", [
      "verify-bundle",
      "--bundle",
      keyBundle,
      "--key",
      join(work, "notes.pub"),
      ...trust,
      artifact,
    ], { env });
    const leaf = keyPair();
    const cert = await fulcioLeaf(sigstore, leaf);
    const certBundle = join(work, "notes.keyless.sigstore.json");
    await Deno.writeTextFile(
      certBundle,
      JSON.stringify(await messageBundle(sigstore, notes, leaf, cert)),
    );
    await dz("verify-bundle (keyless, exact identity)", [
      "verify-bundle",
      "--bundle",
      certBundle,
      "--certificate-identity",
      SUBJECT,
      "--certificate-oidc-issuer",
      ISSUER,
      ...trust,
      artifact,
    ], { env });
    await dz("...a prefix of the identity is refused", [
      "verify-bundle",
      "--bundle",
      certBundle,
      "--certificate-identity",
      SUBJECT.slice(0, -3),
      "--certificate-oidc-issuer",
      ISSUER,
      ...trust,
      artifact,
    ], { env, expect: 1 });

    await dz("login to a password-protected registry", [
      "login",
      authReg.host,
      "-u",
      authReg.username!,
      "--password-stdin",
    ], { env, stdin: authReg.password! });
    await dz("logout", ["logout", authReg.host], { env });
  } finally {
    await sigstore.close();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  console.log(`\n${bold("Summary")}`);
  for (const r of results) console.log(`  ${r.ok ? "ok  " : "FAIL"}  ${r.step} (${r.note})`);
  const failed = results.filter((r) => !r.ok).length;
  console.log(`\ndemo: ${results.length - failed} of ${results.length} steps as expected`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
