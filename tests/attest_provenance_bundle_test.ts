/**
 * `attest-provenance` on Sigstore bundles attached as OCI 1.1 referrers (the
 * form cosign v3 and GitHub's attest-build-provenance write), on a real
 * registry without the referrers API, so through the `sha256-<hex>` fallback
 * tag index. The bundle is the real slsa-github-generator v1.10.0
 * attestation converted to a Sigstore bundle; the image is pushed WITHOUT
 * its cosign `.att` tag, so the bundle is the only provenance there is.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { bundleToJSON } from "@sigstore/bundle";
import { command } from "../commands/attest-provenance.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { referrersTag } from "../lib/registry/cosign_tags.ts";
import { sha256Digest } from "../lib/digest/digest.ts";
import { isIndexType, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from "../lib/oci/media_types.ts";
import { cosignAttestationToBundle } from "../lib/signatures/bundle_convert.ts";
import { attestationFromLayer, cosignManifestLayers } from "../lib/signatures/cosign_layers.ts";
import { dsseBundle, fulcioLeaf, keyPair, startFixture } from "./helpers/bundle_fixtures.ts";
import { GITHUB_ACTIONS_ISSUER } from "../lib/provenance/policy.ts";
import { verifyFoundBundle } from "../lib/provenance/verify_provenance.ts";
import { parseTrustedRoot } from "../lib/trust/trusted_root.ts";
import { startRegistry } from "./helpers/registry.ts";
import { testdata, testdataOrSkip } from "./helpers/testdata.ts";

const REPO = "slsa-framework/example-package";
const WORKFLOW = ".github/workflows/verifier-e2e.all.workflow_dispatch.main.all.slsa3.yml";
const COMMIT = "d37a7f740ee7404914456f24dcd90e865a0509e8";
const REF = "refs/tags/v13.0.30";
/** The v0.1 bundle built from cosign material (inclusion promise only). */
const BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle+json;version=0.1";

const ignore = testdataOrSkip("attest-provenance (bundles)");
const LAYOUT = testdata("slsa-github-generator", "v1.10.0", "container_workflow_dispatch");

const enc = new TextEncoder();
const dec = new TextDecoder();
const blob = (d: string) => Deno.readFileSync(`${LAYOUT}/blobs/sha256/${d.slice(7)}`);
const readJson = (bytes: Uint8Array) => JSON.parse(dec.decode(bytes));

interface Entry {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

function layoutIndex(): { manifests: Entry[] } {
  return readJson(Deno.readFileSync(`${LAYOUT}/index.json`));
}

function attestedDigest(): string {
  return Deno.readTextFileSync(`${LAYOUT}.digest`).trim();
}

/** The real `.att` DSSE layer as Sigstore bundle JSON. */
function realBundle(): Record<string, unknown> {
  const atts = layoutIndex().manifests.find((m) =>
    m.annotations?.kind === "dev.cosignproject.cosign/atts"
  )!;
  const [layer] = cosignManifestLayers(readJson(blob(atts.digest)));
  const att = attestationFromLayer(blob(layer.digest), layer.annotations);
  return bundleToJSON(cosignAttestationToBundle(att, { certificate: att.certificate! })) as Record<
    string,
    unknown
  >;
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

function expectedBlock(image: string): string {
  return [
    "\u{1F389} Successfully verified image",
    `'${image}'`,
    "and its associated claims:",
    "- \u2705 SLSA Level 3 provenance",
    `- \u2705 GitHub repo: ${REPO}`,
    `- \u2705 GitHub actions workflow: ${WORKFLOW}`,
    `- \u2705 Git branch: ${REF}`,
    `- \u2705 Git commit: ${COMMIT}`,
  ].join("\n");
}

/** Push the layout's image (index, platform manifests, blobs), NOT its `.sig` / `.att`. */
async function pushImage(client: RegistryClient, repo: string): Promise<string> {
  const image = layoutIndex().manifests.find((m) =>
    m.annotations?.kind === "dev.cosignproject.cosign/imageIndex"
  )!;
  assert.ok(isIndexType(image.mediaType));
  for (const child of readJson(blob(image.digest)).manifests as Entry[]) {
    const m = readJson(blob(child.digest));
    for (const d of [m.config, ...m.layers] as Entry[]) {
      await client.uploadBlob(repo, d, blob(d.digest));
    }
    await client.putManifest(repo, child.digest, blob(child.digest), child.mediaType);
  }
  return await client.putManifest(repo, "latest", blob(image.digest), image.mediaType);
}

/**
 * Attach `bundle` to `subject` as cosign's BUNDLE_SPEC describes (artifact
 * manifest, empty config, one bundle layer), listing it in the fallback tag
 * index of `listUnder` (default: the subject itself).
 */
async function attachBundle(
  client: RegistryClient,
  repo: string,
  subject: { digest: string; mediaType: string; size: number },
  bundle: Uint8Array,
  opts: { listUnder?: string; artifactType?: string } = {},
): Promise<string> {
  const type = opts.artifactType ?? BUNDLE_TYPE;
  const empty = enc.encode("{}");
  const config = { mediaType: OCI_EMPTY, digest: sha256Digest(empty), size: 2 };
  await client.uploadBlob(repo, config, empty);
  const layer = { mediaType: type, digest: sha256Digest(bundle), size: bundle.byteLength };
  await client.uploadBlob(repo, layer, bundle);
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: type,
    config,
    layers: [layer],
    subject,
    annotations: { "dev.sigstore.bundle.content": "dsse-envelope" },
  }));
  const digest = await client.putManifest(repo, sha256Digest(manifest), manifest, OCI_MANIFEST);
  const tag = referrersTag(opts.listUnder ?? subject.digest);
  let manifests: unknown[] = [];
  if (await client.headManifest(repo, tag)) {
    manifests = readJson((await client.getManifest(repo, tag, [OCI_INDEX])).bytes).manifests;
  }
  manifests.push({
    mediaType: OCI_MANIFEST,
    digest,
    size: manifest.byteLength,
    artifactType: type,
  });
  const index = enc.encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
  await client.putManifest(repo, tag, index, OCI_INDEX);
  return digest;
}

function imageSubject(digest: string) {
  return { digest, mediaType: OCI_INDEX, size: blob(digest).byteLength };
}

/** A one-byte change inside the signed DSSE payload. */
function tamperPayload(b: Record<string, unknown>): Record<string, unknown> {
  const j = structuredClone(b) as { dsseEnvelope: { payload: string } };
  const payload = Buffer.from(j.dsseEnvelope.payload, "base64");
  const at = payload.indexOf("example-package");
  payload[at] ^= 0x01;
  j.dsseEnvelope.payload = payload.toString("base64");
  return j;
}

Deno.test({
  name: "attest-provenance: a Sigstore bundle referrer (fallback tag) verifies without any .att",
  ignore,
  async fn() {
    await using reg = await startRegistry();
    const client = new RegistryClient(reg.host);
    try {
      const repo = "slsa/bundle";
      const image = await pushImage(client, repo);
      assert.equal(image, attestedDigest());
      // No cosign attestation in the registry: only the referrer can verify.
      assert.equal(await client.headManifest(repo, `sha256-${image.slice(7)}.att`), undefined);
      const before = await run([`${reg.host}/${repo}@${image}`, "--repository", REPO]);
      assert.equal(before.code, 1);
      assert.match(before.err, /no attestation found/);

      // An unrelated artifact (an SBOM) listed first is ignored.
      await attachBundle(client, repo, imageSubject(image), enc.encode('{"sbom":true}'), {
        artifactType: "application/spdx+json",
      });
      const ref = await attachBundle(
        client,
        repo,
        imageSubject(image),
        enc.encode(JSON.stringify(realBundle())),
      );

      const r = await run([`${reg.host}/${repo}@${image}`, "--repository", REPO]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.err, "");
      assert.equal(r.out, expectedBlock(`${reg.host}/${repo}@${image}`));

      const byTag = await run([
        `${reg.host}/${repo}:latest`,
        "--repository",
        REPO,
        "--workflow",
        WORKFLOW,
        "--json",
      ]);
      assert.equal(byTag.code, 0, byTag.err);
      const doc = JSON.parse(byTag.out);
      assert.equal(doc.digest, image);
      assert.equal(doc.commit, COMMIT);
      assert.equal(doc.ref, REF);
      assert.equal(doc.issuer, "https://token.actions.githubusercontent.com");
      assert.equal(
        doc.builder,
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.10.0",
      );
      assert.equal(doc.tlog[0].kind, "dsse");
      assert.equal(doc.attestation, `referrer ${ref.slice(0, 19)}\u2026`);

      // Same bundle, wrong --repository / --workflow: the shared claim checks refuse.
      const wrong = await run([
        `${reg.host}/${repo}@${image}`,
        "--repository",
        "freedomofpress/dangerzone",
      ]);
      assert.equal(wrong.code, 1);
      assert.equal(wrong.out, "");
      assert.match(
        wrong.err,
        /source repository is slsa-framework\/example-package, expected freedomofpress\/dangerzone$/,
      );
      const wf = await run([
        `${reg.host}/${repo}@${image}`,
        "--repository",
        REPO,
        "--workflow",
        ".github/workflows/x.yml",
      ]);
      assert.equal(wf.code, 1);
      assert.match(wf.err, /workflow is .*, expected \.github\/workflows\/x\.yml$/);
    } finally {
      client.close();
    }
  },
});

Deno.test({
  name:
    "attest-provenance: bundle referrers on another image, tampered, or listed under the wrong image are refused",
  ignore,
  async fn() {
    await using reg = await startRegistry();
    const client = new RegistryClient(reg.host);
    const expectRefused = async (ref: string, why: RegExp) => {
      const r = await run([ref, "--repository", REPO]);
      assert.equal(r.code, 1, `${ref}: ${r.out} ${r.err}`);
      assert.equal(r.out, "");
      assert.equal(r.err.split("\n").length, 1, r.err);
      assert.match(r.err, why);
    };
    try {
      const good = enc.encode(JSON.stringify(realBundle()));

      // 1. The real bundle attached to ANOTHER image: its statement's subject is not that image.
      const moved = "slsa/moved";
      const image = await pushImage(client, moved);
      const otherBytes = enc.encode(JSON.stringify({
        ...readJson(blob(image)),
        annotations: { moved: "yes" },
      }));
      const other = await client.putManifest(moved, "other", otherBytes, OCI_INDEX);
      assert.notEqual(other, image);
      await attachBundle(
        client,
        moved,
        { digest: other, mediaType: OCI_INDEX, size: otherBytes.byteLength },
        good,
      );
      await expectRefused(`${reg.host}/${moved}:other`, new RegExp(`${other} is not a subject`));
      // ... and the image it was made for has no referrer at all.
      await expectRefused(`${reg.host}/${moved}@${image}`, /no attestation found/);

      // 2. A referrer listed under the image whose manifest names another subject.
      const listed = "slsa/listed";
      const img2 = await pushImage(client, listed);
      const other2 = await client.putManifest(listed, "other", otherBytes, OCI_INDEX);
      await attachBundle(
        client,
        listed,
        { digest: other2, mediaType: OCI_INDEX, size: otherBytes.byteLength },
        good,
        { listUnder: img2 },
      );
      await expectRefused(`${reg.host}/${listed}@${img2}`, new RegExp(`attached to ${other2}`));

      // 3. One byte of the signed payload changed.
      const tampered = "slsa/tampered";
      const img3 = await pushImage(client, tampered);
      await attachBundle(
        client,
        tampered,
        imageSubject(img3),
        enc.encode(JSON.stringify(tamperPayload(realBundle()))),
      );
      await expectRefused(`${reg.host}/${tampered}@${img3}`, /transparency-log|signature/);

      // 4. One byte of the signature changed.
      const sigRepo = "slsa/signature";
      const img4 = await pushImage(client, sigRepo);
      const b = realBundle() as { dsseEnvelope: { signatures: { sig: string }[] } };
      const sig = Buffer.from(b.dsseEnvelope.signatures[0].sig, "base64");
      sig[10] ^= 0x01;
      b.dsseEnvelope.signatures[0].sig = sig.toString("base64");
      await attachBundle(client, sigRepo, imageSubject(img4), enc.encode(JSON.stringify(b)));
      await expectRefused(`${reg.host}/${sigRepo}@${img4}`, /signature|transparency|verif/i);

      // 5. A tampered bundle next to the good one: the good one still verifies.
      const both = "slsa/both";
      const img5 = await pushImage(client, both);
      await attachBundle(
        client,
        both,
        imageSubject(img5),
        enc.encode(JSON.stringify(tamperPayload(realBundle()))),
      );
      await attachBundle(client, both, imageSubject(img5), good);
      const ok = await run([`${reg.host}/${both}@${img5}`, "--repository", REPO]);
      assert.equal(ok.code, 0, ok.err);
    } finally {
      client.close();
    }
  },
});

Deno.test({
  name:
    "attest-provenance: a validly signed v0.3 bundle whose statement subject is not the image is refused",
  async fn() {
    await using fx = await startFixture();
    const trustedRoot = parseTrustedRoot(fx.ss.trustedRoot, "local");
    const kp = keyPair();
    const builder =
      "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.0.0";
    const cert = await fulcioLeaf(fx.ss, kp, builder, GITHUB_ACTIONS_ISSUER);
    const image = `sha256:${"ab".repeat(32)}`;
    const statement = (subject: string) =>
      enc.encode(JSON.stringify({
        _type: "https://in-toto.io/Statement/v1",
        subject: [{ name: "img", digest: { sha256: subject.slice(7) } }],
        predicateType: "https://slsa.dev/provenance/v1",
        predicate: {},
      }));
    const opts = { trustedRoot, expect: { repository: REPO } };
    const outcome = async (subject: string) =>
      verifyFoundBundle(
        {
          ok: true,
          origin: "referrer test",
          bundle: await dsseBundle(fx.ss, statement(subject), kp, cert),
          manifestDigest: image,
        },
        image,
        opts,
      );

    const wrong = await outcome(`sha256:${"cd".repeat(32)}`);
    assert.ok(!wrong.ok);
    assert.equal(wrong.error.code, "SUBJECT_MISMATCH");
    assert.match(wrong.error.message, new RegExp(`${image} is not a subject`));

    // Control: the same signer and subject = image passes the signature and
    // subject checks and stops only at the claims (this predicate is empty).
    const right = await outcome(image);
    assert.ok(!right.ok);
    assert.equal(right.error.code, "PROVENANCE_INVALID", right.error.message);
  },
});
