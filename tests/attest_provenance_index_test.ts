/**
 * `attest-provenance` on a multi-platform index WITHOUT provenance of its
 * own (issue 13 item 6): every entry a runtime could pull must be attested;
 * only BuildKit attestation manifests (`vnd.docker.reference.type:
 * attestation-manifest`, platform `unknown/unknown`, pointing at another
 * entry of the same index) are passed over.
 *
 * The attack, built as an attacker would: take the real slsa-github-generator
 * v1.4.0 image (attested) and list it in a new index next to an unattested
 * image of the attacker's, annotated as an attestation manifest (or with
 * another reference type, or a platform `unknown`). What a runtime pulls for
 * `linux/amd64` is checked with skopeo (containers/image, the library podman
 * pulls with) against the same registry / layout.
 */
import assert from "node:assert/strict";
import { command } from "../commands/attest-provenance.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { sha256Digest } from "../lib/digest/digest.ts";
import { OCI_INDEX } from "../lib/oci/media_types.ts";
import { startRegistry } from "./helpers/registry.ts";
import { pushSlsaLayout } from "./helpers/slsa_layouts.ts";
import { testdata, testdataOrSkip } from "./helpers/testdata.ts";

const REPO = "slsa-framework/example-package";
const ignore = testdataOrSkip("attest-provenance (index entries)");
const LAYOUT = testdata("slsa-github-generator", "v1.4.0", "container_workflow_dispatch");
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

const enc = new TextEncoder();
const dec = new TextDecoder();
const blob = (d: string) => Deno.readFileSync(`${LAYOUT}/blobs/sha256/${d.slice(7)}`);

/** The attested image of the layout (read when a test runs: the data may be absent). */
let attested = "";

interface Entry {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
  annotations?: Record<string, string>;
}

/** An unattested image of the attacker: the same layers, another manifest digest. */
function attackerImage(mark: string): Uint8Array {
  const m = JSON.parse(dec.decode(blob(legitEntry().digest)));
  return enc.encode(JSON.stringify({ ...m, annotations: { attacker: mark } }));
}

function entry(bytes: Uint8Array, extra: Partial<Entry>): Entry {
  return {
    mediaType: DOCKER_MANIFEST,
    digest: sha256Digest(bytes),
    size: bytes.byteLength,
    ...extra,
  };
}

const amd64 = { os: "linux", architecture: "amd64" };
const arm64 = { os: "linux", architecture: "arm64" };
const unknown = { os: "unknown", architecture: "unknown" };
const attestationOf = (digest: string) => ({
  "vnd.docker.reference.type": "attestation-manifest",
  "vnd.docker.reference.digest": digest,
});

/**
 * Attacks: an index whose only attested entry is `legit`, plus the attacker's
 * unattested image listed first, annotated so that it might be passed over.
 * `pulled`: skopeo's amd64 pick is the attacker's image.
 */
function attacks(): { name: string; bytes: Uint8Array; entries: Entry[]; pulled: boolean }[] {
  const legit = legitEntry();
  const make = (name: string, extra: Partial<Entry>, pulled: boolean) => {
    const bytes = attackerImage(name);
    return { name, bytes, entries: [entry(bytes, extra), legit], pulled };
  };
  return [
    make("attestation-manifest on linux/amd64", {
      platform: amd64,
      annotations: attestationOf(legit.digest),
    }, true),
    make("attestation-manifest unknown/unknown pointing nowhere", {
      platform: unknown,
      annotations: attestationOf(`sha256:${"0".repeat(64)}`),
    }, false),
    make("attestation-manifest unknown/unknown pointing at itself", {
      platform: unknown,
      // Filled in below: its own digest.
      annotations: { "vnd.docker.reference.type": "attestation-manifest" },
    }, false),
    make("attestation-manifest unknown/unknown without a reference digest", {
      platform: unknown,
      annotations: { "vnd.docker.reference.type": "attestation-manifest" },
    }, false),
    make("another reference type on linux/amd64", {
      platform: amd64,
      annotations: {
        "vnd.docker.reference.type": "sbom",
        "vnd.docker.reference.digest": legit.digest,
      },
    }, true),
    make("platform os unknown, architecture amd64", {
      platform: { os: "unknown", architecture: "amd64" },
      annotations: attestationOf(legit.digest),
    }, false),
    make("attestation-manifest linux/unknown", {
      platform: { os: "linux", architecture: "unknown" },
      annotations: attestationOf(legit.digest),
    }, false),
  ].map((a) => {
    if (a.name.endsWith("pointing at itself")) {
      a.entries[0].annotations!["vnd.docker.reference.digest"] = a.entries[0].digest;
    }
    return a;
  });
}

/** The attested image, as an index's linux/arm64 entry. */
function legitEntry(): Entry {
  attested ||= Deno.readTextFileSync(`${LAYOUT}.digest`).trim();
  return entry(blob(attested), { platform: arm64 });
}

const indexBytes = (manifests: Entry[]) =>
  enc.encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await command.main(args, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** The digest of the manifest containers/image picks for linux/amd64 from `src`. */
async function skopeoPick(src: string, tmp: string): Promise<string> {
  const dest = await Deno.makeTempDir({ dir: tmp, prefix: "pick_" });
  const out = await new Deno.Command("skopeo", {
    args: [
      "copy",
      "--quiet",
      "--override-os",
      "linux",
      "--override-arch",
      "amd64",
      "--src-tls-verify=false",
      "--src-no-creds",
      src,
      `dir:${dest}`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`skopeo copy ${src}: ${dec.decode(out.stderr)}`);
  return sha256Digest(await Deno.readFile(`${dest}/manifest.json`));
}

function expectRefused(
  r: { code: number; out: string; err: string },
  attacker: string,
  what: string,
) {
  assert.equal(r.code, 1, `${what}: accepted: ${r.out}`);
  assert.equal(r.out, "", what);
  assert.equal(r.err.split("\n").length, 1, r.err);
  assert.match(
    r.err,
    new RegExp(
      `no attestation found for .*@${attacker} \\(index entry: .*only BuildKit attestation`,
    ),
    `${what}: ${r.err}`,
  );
}

Deno.test({
  name: "attest-provenance: index entries disguised as attestations must be attested (registry)",
  ignore,
  async fn() {
    await using reg = await startRegistry();
    const client = new RegistryClient(reg.host);
    const tmp = await Deno.makeTempDir({ prefix: "attest_index_" });
    try {
      const repo = "slsa/index";
      const { image } = await pushSlsaLayout(client, repo, LAYOUT, "attested");
      assert.equal(image, legitEntry().digest);

      for (const [i, a] of attacks().entries()) {
        await client.putManifest(repo, a.entries[0].digest, a.bytes, DOCKER_MANIFEST);
        const tag = `attack-${i}`;
        await client.putManifest(repo, tag, indexBytes(a.entries), OCI_INDEX);
        const ref = `${reg.host}/${repo}:${tag}`;
        if (a.pulled) {
          // The runtime gets the attacker's image for linux/amd64.
          assert.equal(await skopeoPick(`docker://${ref}`, tmp), a.entries[0].digest, a.name);
        }
        expectRefused(await run([ref, "--repository", REPO]), a.entries[0].digest, a.name);
      }

      // A real BuildKit attestation manifest (unknown/unknown, pointing at the
      // attested entry) is passed over: the index verifies through its images.
      const att = attackerImage("buildkit attestation");
      await client.putManifest(repo, sha256Digest(att), att, DOCKER_MANIFEST);
      const amd = { ...legitEntry(), platform: amd64 };
      const ok = await client.putManifest(
        repo,
        "buildkit",
        indexBytes([
          amd,
          entry(att, { platform: unknown, annotations: attestationOf(amd.digest) }),
        ]),
        OCI_INDEX,
      );
      const r = await run([`${reg.host}/${repo}:buildkit`, "--repository", REPO, "--json"]);
      assert.equal(r.code, 0, r.err);
      const doc = JSON.parse(r.out);
      assert.equal(doc.digest, ok);
      assert.deepEqual(doc.platforms, [attested]);
      assert.equal(await skopeoPick(`docker://${reg.host}/${repo}:buildkit`, tmp), attested);
    } finally {
      client.close();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

/** An `oci:` layout: the layout's blobs, `index` tagged `latest`, the `.att` by cosign's tag. */
async function writeLayout(dir: string, extra: Uint8Array[], index: Uint8Array) {
  await Deno.mkdir(`${dir}/blobs/sha256`, { recursive: true });
  for await (const e of Deno.readDir(`${LAYOUT}/blobs/sha256`)) {
    await Deno.copyFile(`${LAYOUT}/blobs/sha256/${e.name}`, `${dir}/blobs/sha256/${e.name}`);
  }
  for (const b of [...extra, index]) {
    await Deno.writeFile(`${dir}/blobs/sha256/${sha256Digest(b).slice(7)}`, b);
  }
  await Deno.copyFile(`${LAYOUT}/oci-layout`, `${dir}/oci-layout`);
  const att = JSON.parse(await Deno.readTextFile(`${LAYOUT}/index.json`)).manifests.find((
    m: Entry,
  ) => m.annotations?.kind === "dev.cosignproject.cosign/atts");
  await Deno.writeTextFile(
    `${dir}/index.json`,
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: OCI_INDEX,
          digest: sha256Digest(index),
          size: index.byteLength,
          annotations: { "org.opencontainers.image.ref.name": "latest" },
        },
        {
          ...att,
          annotations: { "org.opencontainers.image.ref.name": `sha256-${attested.slice(7)}.att` },
        },
      ],
    }),
  );
}

Deno.test({
  name: "attest-provenance: index entries disguised as attestations must be attested (oci: layout)",
  ignore,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "attest_index_oci_" });
    try {
      for (const [i, a] of attacks().entries()) {
        const dir = `${tmp}/attack-${i}`;
        await writeLayout(dir, [a.bytes], indexBytes(a.entries));
        if (a.pulled) {
          assert.equal(await skopeoPick(`oci:${dir}:latest`, tmp), a.entries[0].digest, a.name);
        }
        expectRefused(
          await run([`oci:${dir}:latest`, "--repository", REPO]),
          a.entries[0].digest,
          a.name,
        );
      }
      const att = attackerImage("buildkit attestation");
      const amd = { ...legitEntry(), platform: amd64 };
      const dir = `${tmp}/buildkit`;
      const index = indexBytes([
        amd,
        entry(att, { platform: unknown, annotations: attestationOf(amd.digest) }),
      ]);
      await writeLayout(dir, [att], index);
      const r = await run([`oci:${dir}:latest`, "--repository", REPO, "--json"]);
      assert.equal(r.code, 0, r.err);
      const doc = JSON.parse(r.out);
      assert.equal(doc.digest, sha256Digest(index));
      assert.deepEqual(doc.platforms, [attested]);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
