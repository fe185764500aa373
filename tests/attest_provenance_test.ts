import assert from "node:assert/strict";
import { command } from "../commands/attest-provenance.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { sha256Digest } from "../lib/digest/digest.ts";
import { startRegistry } from "./helpers/registry.ts";
import { pushSlsaLayout } from "./helpers/slsa_layouts.ts";
import { testdata, testdataOrSkip } from "./helpers/testdata.ts";
import { certificateClaims } from "../lib/provenance/cert_claims.ts";
import { Buffer } from "node:buffer";

const decodeBase64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const encodeBase64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

const REPO = "slsa-framework/example-package";
const WORKFLOW = ".github/workflows/verifier-e2e.all.workflow_dispatch.main.all.slsa3.yml";
const VERSIONS = {
  "v1.4.0": {
    commit: "904e2c3e02725e314cf6cf141c4700081298dcbd",
    branch: "main",
    ref: "refs/heads/main",
  },
  "v1.10.0": {
    commit: "d37a7f740ee7404914456f24dcd90e865a0509e8",
    branch: "refs/tags/v13.0.30",
    ref: "refs/tags/v13.0.30",
  },
} as const;
type Version = keyof typeof VERSIONS;

const ignore = testdataOrSkip("attest-provenance");

function layoutDir(v: Version): string {
  return testdata("slsa-github-generator", v, "container_workflow_dispatch");
}

function attestedDigest(v: Version): string {
  return Deno.readTextFileSync(
    testdata("slsa-github-generator", v, "container_workflow_dispatch.digest"),
  ).trim();
}

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await command.main(args, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

function expectedBlock(image: string, v: Version): string {
  const e = VERSIONS[v];
  return [
    "\u{1F389} Successfully verified image",
    `'${image}'`,
    "and its associated claims:",
    "- \u2705 SLSA Level 3 provenance",
    `- \u2705 GitHub repo: ${REPO}`,
    `- \u2705 GitHub actions workflow: ${WORKFLOW}`,
    `- \u2705 Git branch: ${e.branch}`,
    `- \u2705 Git commit: ${e.commit}`,
  ].join("\n");
}

// ---- temp copies of a layout, with the attestation rewritten -------------

interface IndexJson {
  manifests: {
    digest: string;
    size: number;
    mediaType: string;
    annotations?: Record<string, string>;
  }[];
}

async function copyLayout(v: Version): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "attest_prov_" });
  const src = layoutDir(v);
  await Deno.mkdir(`${dir}/blobs/sha256`, { recursive: true });
  for await (const e of Deno.readDir(`${src}/blobs/sha256`)) {
    await Deno.copyFile(`${src}/blobs/sha256/${e.name}`, `${dir}/blobs/sha256/${e.name}`);
  }
  await Deno.copyFile(`${src}/index.json`, `${dir}/index.json`);
  await Deno.copyFile(`${src}/oci-layout`, `${dir}/oci-layout`);
  return dir;
}

async function writeBlob(
  dir: string,
  bytes: Uint8Array,
): Promise<{ digest: string; size: number }> {
  const digest = sha256Digest(bytes);
  await Deno.writeFile(`${dir}/blobs/sha256/${digest.slice(7)}`, bytes);
  return { digest, size: bytes.byteLength };
}

function readJson(path: string) {
  return JSON.parse(Deno.readTextFileSync(path));
}

/** Rewrite index entry `kind` with `edit(bytes) → bytes`, keeping the layout consistent. */
async function rewriteEntry(dir: string, kind: string, edit: (b: Uint8Array) => Uint8Array) {
  const index: IndexJson = readJson(`${dir}/index.json`);
  const entry = index.manifests.find((m) => m.annotations?.kind === kind)!;
  const bytes = await Deno.readFile(`${dir}/blobs/sha256/${entry.digest.slice(7)}`);
  Object.assign(entry, await writeBlob(dir, edit(bytes)));
  await Deno.writeTextFile(`${dir}/index.json`, JSON.stringify(index));
  return entry.digest;
}

interface Layer {
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

/** Rewrite the first `.att` layer (envelope bytes and/or annotations). */
async function rewriteAttLayer(
  dir: string,
  edit: (envelope: Uint8Array, annotations: Record<string, string>) => Uint8Array,
) {
  const index: IndexJson = readJson(`${dir}/index.json`);
  const atts = index.manifests.find((m) =>
    m.annotations?.kind === "dev.cosignproject.cosign/atts"
  )!;
  const manifest = readJson(`${dir}/blobs/sha256/${atts.digest.slice(7)}`);
  const layer: Layer = manifest.layers[0];
  const env = await Deno.readFile(`${dir}/blobs/sha256/${layer.digest.slice(7)}`);
  const newEnv = edit(env, layer.annotations);
  Object.assign(layer, await writeBlob(dir, newEnv));
  Object.assign(atts, await writeBlob(dir, new TextEncoder().encode(JSON.stringify(manifest))));
  await Deno.writeTextFile(`${dir}/index.json`, JSON.stringify(index));
}

/** Change one character of `s` at `at` (to another base64 / ASCII character). */
function flip(s: string, at: number): string {
  const c = s[at];
  const r = c === "A" ? "B" : c === "0" ? "1" : c === "a" ? "b" : "A";
  return s.slice(0, at) + r + s.slice(at + 1);
}

async function expectRefused(dir: string, pattern?: RegExp, extra: string[] = []) {
  try {
    const r = await run([`oci:${dir}`, "--repository", REPO, ...extra]);
    assert.equal(r.code, 1, `expected exit 1, got ${r.code}: ${r.out} ${r.err}`);
    assert.equal(r.out, "");
    assert.equal(r.err.split("\n").length, 1, r.err);
    if (pattern) assert.match(r.err, pattern);
    return r.err;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---- the real attestations verify -----------------------------------------

for (const v of Object.keys(VERSIONS) as Version[]) {
  Deno.test({
    name: `attest-provenance: ${v} layout verifies offline and prints the block`,
    ignore,
    async fn() {
      const digest = attestedDigest(v);
      const r = await run([`oci:${layoutDir(v)}`, "--repository", REPO]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.err, "");
      assert.equal(r.out, expectedBlock(`oci:${layoutDir(v)}@${digest}`, v));

      const byDigest = await run([
        `oci:${layoutDir(v)}@${digest}`,
        "--repository",
        REPO,
        "--workflow",
        WORKFLOW,
        "--json",
        ...(v === "v1.4.0" ? ["--branch", "main"] : []),
      ]);
      assert.equal(byDigest.code, 0, byDigest.err);
      const doc = JSON.parse(byDigest.out);
      assert.equal(doc.ok, true);
      assert.equal(doc.digest, digest);
      assert.equal(doc.repository, REPO);
      assert.equal(doc.workflow, WORKFLOW);
      assert.equal(doc.ref, VERSIONS[v].ref);
      assert.equal(doc.commit, VERSIONS[v].commit);
      assert.equal(doc.predicateType, "https://slsa.dev/provenance/v0.2");
      assert.equal(doc.issuer, "https://token.actions.githubusercontent.com");
      assert.equal(
        doc.builder,
        `https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/${v}`,
      );
      assert.equal(doc.tlog[0].kind, v === "v1.4.0" ? "intoto" : "dsse");
    },
  });

  Deno.test({
    name: `attest-provenance: ${v} wrong --repository / --workflow / --branch exit 1`,
    ignore,
    async fn() {
      const img = `oci:${layoutDir(v)}`;
      const repo = await run([img, "--repository", "freedomofpress/dangerzone"]);
      assert.equal(repo.code, 1);
      assert.equal(repo.out, "");
      assert.match(
        repo.err,
        /: source repository is slsa-framework\/example-package, expected freedomofpress\/dangerzone$/,
      );
      const wf = await run([img, "--repository", REPO, "--workflow", ".github/workflows/x.yml"]);
      assert.equal(wf.code, 1);
      assert.match(
        wf.err,
        /workflow is \.github\/workflows\/verifier-e2e.*, expected \.github\/workflows\/x\.yml$/,
      );
      const br = await run([img, "--repository", REPO, "--branch", "release"]);
      assert.equal(br.code, 1);
      assert.match(
        br.err,
        v === "v1.4.0"
          ? /git branch is main, expected release/
          : /git ref is refs\/tags\/v13\.0\.30/,
      );
      const usage = await run([img]);
      assert.equal(usage.code, 2);
      assert.match(usage.err, /--repository/);
    },
  });

  Deno.test({
    name: `attest-provenance: ${v} tampered envelope, certificate, bundle are refused`,
    ignore,
    async fn() {
      // One byte of the DSSE payload (a character inside the signed statement).
      let dir = await copyLayout(v);
      await rewriteAttLayer(dir, (env) => {
        const j = JSON.parse(new TextDecoder().decode(env));
        const payload = new TextDecoder().decode(decodeBase64(j.payload));
        const at = payload.indexOf("example-package");
        j.payload = encodeBase64(new TextEncoder().encode(flip(payload, at)));
        return new TextEncoder().encode(JSON.stringify(j));
      });
      await expectRefused(dir);

      // One byte of the envelope's signature.
      dir = await copyLayout(v);
      await rewriteAttLayer(dir, (env) => {
        const j = JSON.parse(new TextDecoder().decode(env));
        j.signatures[0].sig = flip(j.signatures[0].sig, 20);
        return new TextEncoder().encode(JSON.stringify(j));
      });
      await expectRefused(dir);

      // One byte of the envelope outside payload and signature: the logged hash no longer matches.
      dir = await copyLayout(v);
      await rewriteAttLayer(dir, (env) => {
        const text = new TextDecoder().decode(env);
        return new TextEncoder().encode(text.replace(/\}\s*$/, "} "));
      });
      if (v === "v1.4.0") await expectRefused(dir, /another DSSE envelope/);
      else await Deno.remove(dir, { recursive: true }); // dsse entries log signature + payload hash

      // One byte of the certificate (inside its signed part).
      dir = await copyLayout(v);
      await rewriteAttLayer(dir, (env, ann) => {
        const pem = ann["dev.sigstore.cosign/certificate"];
        ann["dev.sigstore.cosign/certificate"] = flip(pem, pem.indexOf("\n", 200) + 10);
        return env;
      });
      await expectRefused(dir);

      // One byte of the Rekor bundle: the SET, then the integrated time.
      dir = await copyLayout(v);
      await rewriteAttLayer(dir, (env, ann) => {
        const b = JSON.parse(ann["dev.sigstore.cosign/bundle"]);
        b.SignedEntryTimestamp = flip(b.SignedEntryTimestamp, 30);
        ann["dev.sigstore.cosign/bundle"] = JSON.stringify(b);
        return env;
      });
      await expectRefused(dir);
      dir = await copyLayout(v);
      await rewriteAttLayer(dir, (env, ann) => {
        const b = JSON.parse(ann["dev.sigstore.cosign/bundle"]);
        b.Payload.integratedTime += 1;
        ann["dev.sigstore.cosign/bundle"] = JSON.stringify(b);
        return env;
      });
      await expectRefused(dir, /signed entry timestamp/);
    },
  });

  Deno.test({
    name: `attest-provenance: ${v} attestation moved onto another image digest is refused`,
    ignore,
    async fn() {
      const dir = await copyLayout(v);
      const kind = v === "v1.4.0"
        ? "dev.cosignproject.cosign/image"
        : "dev.cosignproject.cosign/imageIndex";
      const other = await rewriteEntry(dir, kind, (b) => {
        const j = JSON.parse(new TextDecoder().decode(b));
        j.annotations = { moved: "yes" };
        return new TextEncoder().encode(JSON.stringify(j));
      });
      assert.notEqual(other, attestedDigest(v));
      await expectRefused(dir, new RegExp(`not about ${other}`));
    },
  });
}

Deno.test({
  name: "attest-provenance: a trusted root without the Fulcio CA or the Rekor log is refused",
  ignore,
  async fn() {
    const root = JSON.parse(
      await Deno.readTextFile(
        new URL("../lib/trust/public_good_trusted_root.json", import.meta.url),
      ),
    );
    const tmp = await Deno.makeTempDir({ prefix: "attest_root_" });
    try {
      const noCa = `${tmp}/no_ca.json`;
      await Deno.writeTextFile(noCa, JSON.stringify({ ...root, certificateAuthorities: [] }));
      const noLog = `${tmp}/no_log.json`;
      await Deno.writeTextFile(noLog, JSON.stringify({ ...root, tlogs: [] }));
      for (const v of Object.keys(VERSIONS) as Version[]) {
        for (
          const [file, why] of [[noCa, /certificate|chain/i], [
            noLog,
            /signed entry timestamp|Rekor/,
          ]] as const
        ) {
          const r = await run([
            `oci:${layoutDir(v)}`,
            "--repository",
            REPO,
            "--trusted-root",
            file,
          ]);
          assert.equal(r.code, 1, `${v} ${file}: ${r.err}`);
          assert.match(r.err, why);
        }
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "attest-provenance: certificate claims are read from the Fulcio extensions",
  ignore,
  fn() {
    for (const v of Object.keys(VERSIONS) as Version[]) {
      const dir = layoutDir(v);
      const index: IndexJson = readJson(`${dir}/index.json`);
      const atts = index.manifests.find((m) =>
        m.annotations?.kind === "dev.cosignproject.cosign/atts"
      )!;
      const layer = readJson(`${dir}/blobs/sha256/${atts.digest.slice(7)}`).layers[0];
      const pem: string = layer.annotations["dev.sigstore.cosign/certificate"];
      const der = decodeBase64(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""));
      const c = certificateClaims(der);
      assert.equal(c.repository, REPO);
      assert.equal(c.commit, VERSIONS[v].commit);
      assert.equal(c.ref, VERSIONS[v].ref);
      // Only newer certificates carry the build config URI.
      assert.equal(c.workflow, v === "v1.10.0" ? WORKFLOW : undefined);
    }
  },
});

// ---- registry path ------------------------------------------------------------

/** Push a `cosign save` layout: blobs, manifests (children first), the `.att` tag. */

Deno.test({
  name:
    "attest-provenance: both layouts verify after being pushed to a registry; a moved .att is refused",
  ignore,
  async fn() {
    await using reg = await startRegistry();
    const client = new RegistryClient(reg.host);
    try {
      for (const v of Object.keys(VERSIONS) as Version[]) {
        const repo = `slsa/${v.replaceAll(".", "-")}`;
        const { image, att } = await pushSlsaLayout(client, repo, layoutDir(v), "latest");
        assert.equal(image, attestedDigest(v));
        const byTag = await run([`${reg.host}/${repo}:latest`, "--repository", REPO]);
        assert.equal(byTag.code, 0, byTag.err);
        assert.equal(byTag.out, expectedBlock(`${reg.host}/${repo}:latest@${image}`, v));
        const byDigest = await run([`${reg.host}/${repo}@${image}`, "--repository", REPO]);
        assert.equal(byDigest.code, 0, byDigest.err);
        assert.equal(byDigest.out, expectedBlock(`${reg.host}/${repo}@${image}`, v));
        const wrong = await run([
          `${reg.host}/${repo}@${image}`,
          "--repository",
          "freedomofpress/dangerzone",
        ]);
        assert.equal(wrong.code, 1);

        // The same .att attached to another image: its subject is not that image.
        const otherBytes = new TextEncoder().encode(JSON.stringify({
          ...JSON.parse(
            new TextDecoder().decode(
              Deno.readFileSync(`${layoutDir(v)}/blobs/sha256/${image.slice(7)}`),
            ),
          ),
          annotations: { moved: "yes" },
        }));
        const mediaType = readJson(`${layoutDir(v)}/index.json`).manifests[0].mediaType;
        const other = await client.putManifest(repo, "other", otherBytes, mediaType);
        await client.putManifest(
          repo,
          `sha256-${other.slice(7)}.att`,
          Deno.readFileSync(`${layoutDir(v)}/blobs/sha256/${att.digest.slice(7)}`),
          att.mediaType,
        );
        const moved = await run([`${reg.host}/${repo}:other`, "--repository", REPO]);
        assert.equal(moved.code, 1, moved.out);
        assert.match(moved.err, /not about sha256:/);

        const none = await run([`${reg.host}/${repo}@${att.digest}`, "--repository", REPO]);
        assert.equal(none.code, 1);
        assert.match(none.err, /no attestation found/);
      }

      // An index without provenance of its own: every platform image must have it.
      const single = "slsa/v1-4-0";
      const child = attestedDigest("v1.4.0");
      const childDesc = {
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        digest: child,
        size: Deno.statSync(`${layoutDir("v1.4.0")}/blobs/sha256/${child.slice(7)}`).size,
        platform: { os: "linux", architecture: "amd64" },
      };
      const indexOf = (manifests: unknown[]) =>
        new TextEncoder().encode(JSON.stringify({
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.index.v1+json",
          manifests,
        }));
      const multi = await client.putManifest(
        single,
        "multi",
        indexOf([childDesc]),
        "application/vnd.oci.image.index.v1+json",
      );
      const viaChildren = await run([
        `${reg.host}/${single}:multi`,
        "--repository",
        REPO,
        "--json",
      ]);
      assert.equal(viaChildren.code, 0, viaChildren.err);
      const doc = JSON.parse(viaChildren.out);
      assert.equal(doc.digest, multi);
      assert.deepEqual(doc.platforms, [child]);
      assert.equal(doc.commit, VERSIONS["v1.4.0"].commit);

      // One platform without provenance: refused, naming it.
      const moved = readJson(`${layoutDir("v1.4.0")}/index.json`).manifests[0];
      const bare = new TextEncoder().encode(JSON.stringify({
        ...JSON.parse(
          new TextDecoder().decode(
            Deno.readFileSync(`${layoutDir("v1.4.0")}/blobs/sha256/${child.slice(7)}`),
          ),
        ),
        annotations: { bare: "yes" },
      }));
      const bareDigest = await client.putManifest(
        single,
        sha256Digest(bare),
        bare,
        moved.mediaType,
      );
      await client.putManifest(
        single,
        "mixed",
        indexOf([childDesc, {
          ...childDesc,
          digest: bareDigest,
          size: bare.byteLength,
          platform: { os: "linux", architecture: "arm64" },
        }]),
        "application/vnd.oci.image.index.v1+json",
      );
      const mixed = await run([`${reg.host}/${single}:mixed`, "--repository", REPO]);
      assert.equal(mixed.code, 1);
      assert.match(mixed.err, new RegExp(`no attestation found for .*@${bareDigest}`));
    } finally {
      client.close();
    }
  },
});

Deno.test({
  name: "attest-provenance: archive:FILE.tar from prepare-archive verifies fully offline",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { startSigningLab } = await import("./helpers/signed_images.ts");
    const { command: prepare } = await import("../commands/prepare-archive.ts");
    await using lab = await startSigningLab();
    const v: Version = "v1.10.0";
    const repo = "slsa/archived";
    const { image } = await pushSlsaLayout(lab.client, repo, layoutDir(v), "latest");
    await lab.sign(repo, image); // our own signature, so prepare-archive accepts it
    const tar = `${lab.dir}/slsa.tar`;
    const err: string[] = [];
    const code = await prepare.main(
      [
        "--output",
        tar,
        ...lab.trustArgs,
        `${lab.reg.host}/${repo}@${image}`,
      ],
      { out: () => {}, err: (t) => err.push(t) },
    );
    assert.equal(code, 0, err.join("\n"));
    // The provenance itself is checked against the public-good root (the default).
    const ok = await run([`archive:${tar}`, "--repository", REPO, "--data-dir", `${lab.dir}/dd`]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /SLSA Level 3 provenance/);
    assert.match(ok.out, new RegExp(`GitHub repo: ${REPO}`));
    assert.match(ok.out, new RegExp(image.slice(7)));
    const bad = await run([
      `archive:${tar}`,
      "--repository",
      "freedomofpress/dangerzone",
      "--data-dir",
      `${lab.dir}/dd`,
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /source repository is slsa-framework\/example-package/);
  },
});
