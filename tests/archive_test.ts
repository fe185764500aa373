/**
 * prepare-archive / load-archive against the real registry and the local
 * Rekor stand-in: round trip into an OCI store, cross-checked with skopeo;
 * an unsigned image and a failing transfer leave no archive; tampered
 * archives and rollbacks are refused with nothing loaded or stored; and
 * load-archive runs without any network permission.
 */
import { rewriteArchive } from "./helpers/files.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createTarDecoder } from "modern-tar";
import { command as prepare } from "../commands/prepare-archive.ts";
import { buildImage, type BuiltImage } from "./helpers/image_build.ts";
import { pushImage } from "./helpers/image_push.ts";
import { signImage } from "../lib/publish/sign_image.ts";
import { signerFromKeyFile } from "../lib/keys/signer.ts";
import { generateCosignKeyPair } from "../lib/keys/private_key.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { extractArchive } from "../lib/archive/read.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import { startFaultProxy } from "./helpers/fault_proxy.ts";
import { OCI_INDEX } from "../lib/oci/media_types.ts";
import { sha256Digest } from "../lib/digest/digest.ts";

function sinks() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, sinks: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

/** A registry, a local Sigstore, a key pair, and helpers to publish signed images. */
export async function fixture() {
  const lab = await startSigningLab();
  const publish = async (repo: string, image: BuiltImage, tag: string, sign = true) => {
    const digest = await pushImage(lab.client, repo, image, tag);
    if (sign) await lab.sign(repo, digest);
    return digest;
  };
  /** Push an index over the given platform images; sign it; returns its digest. */
  const publishIndex = async (
    repo: string,
    images: { image: BuiltImage; arch: string }[],
    tag: string,
  ) => {
    const manifests = [];
    for (const { image, arch } of images) {
      await pushImage(lab.client, repo, image);
      manifests.push({
        ...image.manifestDescriptor,
        platform: { os: "linux", architecture: arch },
      });
    }
    const bytes = new TextEncoder().encode(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }),
    );
    const digest = await lab.client.putManifest(repo, tag, bytes, OCI_INDEX);
    await lab.sign(repo, digest);
    return digest;
  };
  return {
    reg: lab.reg,
    dir: lab.dir,
    rootPath: lab.rootPath,
    client: lab.client,
    publish,
    publishIndex,
    common: [...lab.trustArgs],
    /** A key pair's public half that signed nothing here. */
    otherKeyPath: lab.otherKeyPath,
    close: () => lab.close(),
  };
}

async function tarNames(path: string): Promise<string[]> {
  const names: string[] = [];
  const f = await Deno.open(path);
  for await (const e of f.readable.pipeThrough(createTarDecoder({ strict: true }))) {
    names.push(e.header.name);
    await e.body.cancel();
  }
  return names;
}

async function listDir(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "prepare-archive: signed image → cosign-save layout tar, readable by skopeo",
  ...opts,
  async fn() {
    const fx = await fixture();
    try {
      const image = await buildImage({ files: { "hello.txt": "archived" } });
      const digest = await fx.publish("dz/app", image, "v1");
      const out = join(fx.dir, "dz.tar");
      const s = sinks();
      const code = await prepare.main(
        ["--output", out, `${fx.reg.host}/dz/app:v1`, ...fx.common, "--json"],
        s.sinks,
      );
      assert.equal(code, 0, s.err.join("\n"));
      const summary = JSON.parse(s.out[0]);
      assert.equal(summary.digest, digest);
      assert.equal(summary.image, `${fx.reg.host}/dz/app:v1@${digest}`);
      assert.deepEqual(summary.platforms, ["linux/amd64"]);
      assert.equal(summary.signatures, 1);
      assert.equal(summary.signaturesFound, 1);
      // index manifest, config, layer, sig manifest, sig config, sig payload
      assert.equal(summary.blobs, 6);

      const names = await tarNames(out);
      assert.ok(names.includes("./oci-layout") && names.includes("./index.json"));
      assert.ok(names.includes("./dangerzone.json"));
      assert.ok(names.includes(`./blobs/sha256/${digest.slice(7)}`));
      // No temporary file is left beside the output.
      assert.deepEqual((await listDir(fx.dir)).filter((n) => n.endsWith(".tmp")), []);

      // Our reader accepts it; the index carries cosign's kinds (and nothing else, as cosign save).
      const x = join(fx.dir, "x");
      await Deno.mkdir(x);
      const ex = await extractArchive(out, x);
      const kinds = ex.index.manifests.map((m) => m.annotations?.kind);
      assert.deepEqual(kinds, ["dev.cosignproject.cosign/image", "dev.cosignproject.cosign/sigs"]);
      assert.deepEqual(ex.index.manifests[0].annotations, {
        kind: "dev.cosignproject.cosign/image",
      });

      // skopeo reads the image out of the archive (index.json lists only it) and the layout.
      const p = await new Deno.Command("skopeo", {
        args: ["inspect", "--raw", `oci-archive:${out}`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(p.code, 0, new TextDecoder().decode(p.stderr));
      assert.equal(sha256Digest(p.stdout), digest);
      const p2 = await new Deno.Command("skopeo", {
        args: ["inspect", `oci-archive:${out}`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(p2.code, 0, new TextDecoder().decode(p2.stderr));
      assert.equal(JSON.parse(new TextDecoder().decode(p2.stdout)).Digest, digest);
    } finally {
      await fx.close();
    }
  },
});

Deno.test({
  name: "prepare-archive: index keeps the signed index, only the chosen platform's blobs",
  ...opts,
  async fn() {
    const fx = await fixture();
    try {
      const amd = await buildImage({ files: { a: "amd64" }, architecture: "amd64" });
      const arm = await buildImage({ files: { a: "arm64" }, architecture: "arm64" });
      const digest = await fx.publishIndex("dz/multi", [
        { image: amd, arch: "amd64" },
        { image: arm, arch: "arm64" },
      ], "v1");
      const out = join(fx.dir, "m.tar");
      const s = sinks();
      assert.equal(
        await prepare.main(
          ["--output", out, `${fx.reg.host}/dz/multi@${digest}`, ...fx.common, "--json"],
          s.sinks,
        ),
        0,
        s.err.join("\n"),
      );
      const summary = JSON.parse(s.out[0]);
      assert.deepEqual(summary.platforms, ["linux/amd64"]);
      const names = await tarNames(out);
      assert.ok(names.includes(`./blobs/sha256/${digest.slice(7)}`));
      assert.ok(names.includes(`./blobs/sha256/${amd.manifestDescriptor.digest.slice(7)}`));
      assert.ok(!names.includes(`./blobs/sha256/${arm.manifestDescriptor.digest.slice(7)}`));
      assert.ok(!names.includes(`./blobs/sha256/${arm.layers[0].descriptor.digest.slice(7)}`));
      const x = join(fx.dir, "x");
      await Deno.mkdir(x);
      const ex = await extractArchive(out, x);
      assert.equal(ex.index.manifests[0].annotations?.kind, "dev.cosignproject.cosign/imageIndex");

      const all = join(fx.dir, "all.tar");
      const s2 = sinks();
      assert.equal(
        await prepare.main(
          [
            "--output",
            all,
            `${fx.reg.host}/dz/multi:v1`,
            ...fx.common,
            "--all-platforms",
            "--json",
          ],
          s2.sinks,
        ),
        0,
        s2.err.join("\n"),
      );
      assert.deepEqual(JSON.parse(s2.out[0]).platforms, ["linux/amd64", "linux/arm64"]);
      assert.ok(
        (await tarNames(all)).includes(
          `./blobs/sha256/${arm.layers[0].descriptor.digest.slice(7)}`,
        ),
      );
      // A platform the index lacks is a usage error, nothing written.
      const s3 = sinks();
      const none = join(fx.dir, "none.tar");
      assert.equal(
        await prepare.main(
          [
            "--output",
            none,
            `${fx.reg.host}/dz/multi:v1`,
            ...fx.common,
            "--platform",
            "linux/s390x",
          ],
          s3.sinks,
        ),
        2,
      );
      await assert.rejects(Deno.stat(none), Deno.errors.NotFound);
    } finally {
      await fx.close();
    }
  },
});

Deno.test({
  name: "prepare-archive: unsigned or wrongly signed image → exit 1, nothing written",
  ...opts,
  async fn() {
    const fx = await fixture();
    try {
      const image = await buildImage({ files: { "x": "unsigned" } });
      await fx.publish("dz/unsigned", image, "v1", false);
      const out = join(fx.dir, "u.tar");
      const s = sinks();
      assert.equal(
        await prepare.main(
          ["--output", out, `${fx.reg.host}/dz/unsigned:v1`, ...fx.common],
          s.sinks,
        ),
        1,
      );
      assert.match(s.err.join("\n"), /no signatures/);
      await assert.rejects(Deno.stat(out), Deno.errors.NotFound);

      // Signed, but not by the trusted key: a fresh key pair is trusted instead.
      const signed = await buildImage({ files: { "x": "signed" } });
      await fx.publish("dz/other", signed, "v1");
      const s2 = sinks();
      assert.equal(
        await prepare.main(
          [
            "--output",
            out,
            `${fx.reg.host}/dz/other:v1`,
            "--key",
            fx.otherKeyPath,
            "--trusted-root",
            fx.rootPath,
          ],
          s2.sinks,
        ),
        1,
      );
      await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
      assert.deepEqual((await listDir(fx.dir)).filter((n) => n.endsWith(".tmp")), []);
    } finally {
      await fx.close();
    }
  },
});

Deno.test({
  name: "prepare-archive: a transfer that fails midway leaves no FILE.tar",
  ...opts,
  async fn() {
    const fx = await fixture();
    try {
      const image = await buildImage({ files: { "big": new Uint8Array(200_000).fill(7) } });
      await fx.publish("dz/app", image, "v1");
      const layer = image.layers[0].descriptor.digest;
      await using proxy = startFaultProxy(fx.reg.url, (req) => {
        return new URL(req.url).pathname.endsWith(`/blobs/${layer}`) ? "corrupt" : undefined;
      });
      const out = join(fx.dir, "f.tar");
      const s = sinks();
      const code = await prepare.main(
        ["--output", out, `${proxy.host}/dz/app:v1`, ...fx.common],
        s.sinks,
      );
      assert.equal(code, 1, s.err.join("\n"));
      assert.match(s.err.join("\n"), /digest|bytes/);
      await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
      assert.deepEqual((await listDir(fx.dir)).filter((n) => n.endsWith(".tmp")), []);
    } finally {
      await fx.close();
    }
  },
});

const dec = new TextDecoder();
const enc = new TextEncoder();

/** Replace a blob by new bytes and repoint every index entry naming it. */
function replaceBlob(files: Map<string, Uint8Array>, digest: string, bytes: Uint8Array) {
  const nd = sha256Digest(bytes);
  files.delete(`./blobs/sha256/${digest.slice(7)}`);
  files.set(`./blobs/sha256/${nd.slice(7)}`, bytes);
  for (const n of ["./index.json", "./dangerzone.json"]) {
    const idx = JSON.parse(dec.decode(files.get(n)!));
    for (const m of idx.manifests) {
      if (m.digest === digest) Object.assign(m, { digest: nd, size: bytes.byteLength });
    }
    files.set(n, enc.encode(JSON.stringify(idx)));
  }
}

/** Run load-archive as its own program WITHOUT network permission. */
async function loadOffline(args: string[]) {
  const p = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      join(import.meta.dirname!, "..", "commands", "load-archive.ts"),
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: p.code, out: dec.decode(p.stdout), err: dec.decode(p.stderr) };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "load-archive: offline round trip into oci:, tampering and rollback refused",
  ...opts,
  async fn() {
    const fx = await fixture();
    try {
      const v1 = await buildImage({ files: { "v": "one" } });
      const d1 = await fx.publish("dz/app", v1, "latest");
      const a1 = join(fx.dir, "a1.tar");
      assert.equal(
        await prepare.main(
          ["--output", a1, `${fx.reg.host}/dz/app:latest`, ...fx.common],
          sinks().sinks,
        ),
        0,
      );
      const v2 = await buildImage({ files: { "v": "two" } });
      const d2 = await fx.publish("dz/app", v2, "latest");
      const a2 = join(fx.dir, "a2.tar");
      assert.equal(
        await prepare.main(
          ["--output", a2, `${fx.reg.host}/dz/app:latest`, ...fx.common],
          sinks().sinks,
        ),
        0,
      );
      const data = join(fx.dir, "data");
      const store = join(fx.dir, "store");
      const common = [...fx.common, "--data-dir", data, "--runtime", `oci:${store}`, "--json"];
      const sigDir = join(data, "signatures");

      // Tampered archives: each refused (exit 1), nothing loaded, nothing stored.
      const tampered: [string, (f: Map<string, Uint8Array>) => void, RegExp][] = [
        ["flipped layer byte", (f) => {
          const n = `./blobs/sha256/${v2.layers[0].descriptor.digest.slice(7)}`;
          const b = f.get(n)!.slice();
          b[b.length - 1] ^= 1;
          f.set(n, b);
        }, /does not hash/],
        ["replaced signature", (f) => {
          const idx = JSON.parse(dec.decode(f.get("./dangerzone.json")!));
          const sig = idx.manifests.find((m: { annotations: Record<string, string> }) =>
            m.annotations.kind.endsWith("/sigs")
          );
          const doc = JSON.parse(dec.decode(f.get(`./blobs/sha256/${sig.digest.slice(7)}`)!));
          const a = doc.layers[0].annotations;
          const raw = atob(a["dev.cosignproject.cosign/signature"]);
          a["dev.cosignproject.cosign/signature"] = btoa(
            raw.slice(0, 10) + String.fromCharCode(raw.charCodeAt(10) ^ 1) + raw.slice(11),
          );
          replaceBlob(f, sig.digest, enc.encode(JSON.stringify(doc)));
        }, /does not verify/],
        ["index pointing elsewhere", (f) => {
          // v1's image manifest (present as a blob) named as the image: its signatures don't bind it.
          f.set(`./blobs/sha256/${d1.slice(7)}`, v1.manifest);
          f.set(`./blobs/sha256/${v1.configDescriptor.digest.slice(7)}`, v1.config);
          f.set(`./blobs/sha256/${v1.layers[0].descriptor.digest.slice(7)}`, v1.layers[0].bytes);
          for (const n of ["./index.json", "./dangerzone.json"]) {
            const idx = JSON.parse(dec.decode(f.get(n)!));
            Object.assign(idx.manifests[0], { digest: d1, size: v1.manifest.byteLength });
            f.set(n, enc.encode(JSON.stringify(idx)));
          }
        }, /signature|name says|nothing refers to/],
        ["index.json / dangerzone.json disagree", (f) => {
          const idx = JSON.parse(dec.decode(f.get("./dangerzone.json")!));
          idx.manifests.pop();
          idx.manifests.push({ ...idx.manifests[0] });
          f.set("./dangerzone.json", enc.encode(JSON.stringify(idx)));
        }, /disagree/],
      ];
      for (const [what, edit, pattern] of tampered) {
        const t = join(fx.dir, "t.tar");
        await rewriteArchive(a2, t, edit);
        const r = await loadOffline([t, ...common]);
        assert.equal(r.code, 1, `${what}: ${r.err}`);
        assert.match(r.err, pattern, what);
        assert.equal(await exists(store), false, `${what}: nothing loaded`);
        assert.equal(await exists(sigDir), false, `${what}: nothing stored`);
      }

      // The newer archive loads with no network permission at all.
      const r2 = await loadOffline([a2, ...common]);
      assert.equal(r2.code, 0, r2.err);
      const j2 = JSON.parse(r2.out);
      assert.equal(j2.status, "upgraded");
      assert.equal(j2.digest, d2);
      assert.equal(j2.image, `${fx.reg.host}/dz/app:latest`);
      assert.equal(j2.imageId, v2.configDescriptor.digest);
      assert.ok(await exists(store));
      const storeIndex = JSON.parse(await Deno.readTextFile(join(store, "index.json")));
      assert.ok(storeIndex.manifests.some((m: { digest: string }) => m.digest === d2));

      // The older archive is a rollback: refused, then accepted with --force.
      const r1 = await loadOffline([a1, ...common]);
      assert.equal(r1.code, 1, r1.err);
      assert.match(r1.err, /rollback/);
      const r1f = await loadOffline([a1, ...common, "--force"]);
      assert.equal(r1f.code, 0, r1f.err);
      assert.equal(JSON.parse(r1f.out).digest, d1);
      // No temporary layout is left in the data dir.
      const left: string[] = [];
      for await (const e of Deno.readDir(join(data, "tmp"))) left.push(e.name);
      assert.deepEqual(left.filter((n) => n.startsWith("archive-")), []);
    } finally {
      await fx.close();
    }
  },
});

Deno.test({
  name: "prepare-archive: only the signatures that verify travel; the archive then loads",
  ...opts,
  async fn() {
    const fx = await fixture();
    try {
      const image = await buildImage({ files: { "mixed.txt": "two signers" } });
      const digest = await fx.publish("dz/mixed", image, "v1");
      // A second signature by a key the user does not trust.
      const other = await generateCosignKeyPair("x");
      const otherKey = join(fx.dir, "other.key");
      await Deno.writeTextFile(otherKey, other.privateKeyPem);
      await signImage({
        client: fx.client,
        repository: "dz/mixed",
        digest,
        signer: await signerFromKeyFile(otherKey, () => Promise.resolve("x")),
        trustedRoot: await loadTrustedRoot(fx.rootPath),
      });
      const out = join(fx.dir, "mixed.tar");
      const s = sinks();
      const code = await prepare.main(
        ["--output", out, `${fx.reg.host}/dz/mixed@${digest}`, ...fx.common, "--json"],
        s.sinks,
      );
      assert.equal(code, 0, s.err.join("\n"));
      assert.equal(JSON.parse(s.out[0]).signatures, 1);
      const extracted = join(fx.dir, "mixed-extracted");
      await Deno.mkdir(extracted);
      await extractArchive(out, extracted, {});
      const index = JSON.parse(await Deno.readTextFile(join(extracted, "index.json")));
      const sigEntry = index.manifests.find((m: { annotations?: Record<string, string> }) =>
        m.annotations?.kind === "dev.cosignproject.cosign/sigs"
      );
      const sigManifest = JSON.parse(
        await Deno.readTextFile(join(extracted, "blobs/sha256", sigEntry.digest.slice(7))),
      );
      assert.equal(sigManifest.layers.length, 1, "the untrusted signature is left out");
      const loaded = await loadOffline([
        ...fx.common,
        "--data-dir",
        join(fx.dir, "data-mixed"),
        "--runtime",
        `oci:${join(fx.dir, "store-mixed")}`,
        out,
      ]);
      assert.equal(loaded.code, 0, loaded.err);
    } finally {
      await fx.close();
    }
  },
});

Deno.test({
  name: "load-archive: 1M-deep JSON in index.json / dangerzone.json → exit 1, one line",
  ...opts,
  async fn() {
    const fx = await fixture();
    try {
      const image = await buildImage({ files: { "d": "deep" } });
      await fx.publish("dz/deep", image, "latest");
      const a = join(fx.dir, "a.tar");
      assert.equal(
        await prepare.main(["--output", a, `${fx.reg.host}/dz/deep`, ...fx.common], sinks().sinks),
        0,
      );
      const deep = "[".repeat(1_000_000) + "]".repeat(1_000_000);
      const t = join(fx.dir, "deep.tar");
      await rewriteArchive(a, t, (f) => {
        for (const n of ["./index.json", "./dangerzone.json"]) {
          const idx = JSON.parse(dec.decode(f.get(n)!));
          f.set(n, enc.encode(JSON.stringify(idx).slice(0, -1) + `,"annotations":${deep}}`));
        }
      });
      const data = join(fx.dir, "data");
      const r = await loadOffline([
        t,
        ...fx.common,
        "--data-dir",
        data,
        "--runtime",
        `oci:${join(fx.dir, "s")}`,
      ]);
      assert.equal(r.code, 1, r.err);
      assert.equal(r.err.trim().split("\n").length, 1, r.err);
      assert.match(r.err, /nests 1000001 levels deep/);
      assert.doesNotMatch(r.err, /call stack/);
    } finally {
      await fx.close();
    }
  },
});

Deno.test({
  name: "load-archive: installs under the signed identity, never under the name the archive claims",
  ...opts,
  async fn() {
    const fx = await fixture();
    try {
      const v1 = await buildImage({ files: { "v": "claimed" } });
      const d1 = await fx.publish("dz/app", v1, "latest");
      const a = join(fx.dir, "a.tar");
      assert.equal(
        await prepare.main(
          ["--output", a, `${fx.reg.host}/dz/app:latest`, ...fx.common],
          sinks().sinks,
        ),
        0,
      );
      // The attacker's archive says it is Dangerzone's image.
      const t = join(fx.dir, "claimed.tar");
      await rewriteArchive(a, t, (f) => {
        for (const n of ["./index.json", "./dangerzone.json"]) {
          const idx = JSON.parse(dec.decode(f.get(n)!));
          const image = idx.manifests.find((m: { digest: string }) => m.digest === d1);
          image.annotations = {
            ...image.annotations,
            "org.opencontainers.image.ref.name": "ghcr.io/freedomofpress/dangerzone/v1:latest",
          };
          f.set(n, enc.encode(JSON.stringify(idx)));
        }
      });
      const data = join(fx.dir, "data");
      const store = join(fx.dir, "store");
      const common = [...fx.common, "--data-dir", data, "--runtime", `oci:${store}`];
      // Asked to accept only Dangerzone's identity: refused, nothing loaded.
      let r = await loadOffline([
        t,
        ...common,
        "--signed-identity",
        "ghcr.io/freedomofpress/dangerzone/v1",
      ]);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /signed for .*dz\/app, not/);
      assert.equal(await exists(store), false);
      // Otherwise installed under the name its signatures carry.
      r = await loadOffline([t, ...common, "--json"]);
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).image, `${fx.reg.host}/dz/app:latest`);
      const index = JSON.parse(await Deno.readTextFile(join(store, "index.json")));
      const names = index.manifests.map((m: { annotations?: Record<string, string> }) =>
        m.annotations?.["org.opencontainers.image.ref.name"]
      );
      assert.ok(!names.some((n: string) => n?.includes("freedomofpress")), names.join(","));
    } finally {
      await fx.close();
    }
  },
});
