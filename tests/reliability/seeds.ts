/**
 * The valid trust inputs the mutation campaign starts from, read from the
 * shared real-world test data (never copied into the repository): the
 * Dangerzone signature lists (verified with `test.pub.key`) and the
 * slsa-github-generator `cosign save` layouts with their attestations.
 * The expected provenance facts are read from the statements themselves.
 *
 * @module
 */

import { testdata } from "../helpers/testdata.ts";
import { sha256Hex, unb64, utf8 } from "./encoding.ts";

/** sha256 of `test.pub.key`: the folder of the valid signature lists. */
export const DANGERZONE_KEY_ID = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";

/** A plain JSON object. */
export type JsonObject = Record<string, unknown>;

/** One valid `cosign download signature` list and the digest it covers. */
export interface SignatureSeed {
  /** File name (image digest hex + `.json`). */
  name: string;
  /** `sha256:<hex>` the entries sign. */
  digest: string;
  /** The entries, as parsed JSON. */
  entries: JsonObject[];
}

/** What the provenance is expected to say (derived from the statement). */
export interface Expectations {
  repository: string;
  workflow?: string;
  branch?: string;
}

/** One slsa-github-generator layout and its (single) attestation layer. */
export interface AttestationSeed {
  /** Generator version, e.g. `v1.4.0`. */
  version: string;
  /** The attested image digest. */
  digest: string;
  /** The layout's index entry of the image (manifest or index). */
  imageEntry: JsonObject;
  /** The `.att` manifest, parsed. */
  attsManifest: JsonObject;
  /** `attsManifest.layers[0]`. */
  layer: JsonObject;
  /** The DSSE envelope bytes exactly as stored. */
  envelope: Uint8Array;
  /** The Rekor entry is `intoto` 0.0.1: the envelope bytes themselves are logged (hashed). */
  envelopeHashLogged: boolean;
  /** Small blobs of the layout (manifests, configs) by hex digest; big layers left out. */
  blobs: Map<string, Uint8Array>;
  /** Expectations the real attestation meets. */
  expect: Expectations;
}

/** All seeds. */
export interface Seeds {
  signatures: SignatureSeed[];
  attestations: AttestationSeed[];
  /** Path of `test.pub.key`. */
  keyPath: string;
}

/** Largest layout blob kept in memory (manifests and configs; layers are not needed). */
const SMALL_BLOB = 64 * 1024;

/** Paths of the seeds in the shared test data. */
export const SEED_PATHS = {
  signatures: () => testdata("dangerzone", "signatures", "valid", DANGERZONE_KEY_ID),
  key: () => testdata("dangerzone", "test.pub.key"),
  layout: (v: string) => testdata("slsa-github-generator", v, "container_workflow_dispatch"),
  digest: (v: string) => testdata("slsa-github-generator", v, "container_workflow_dispatch.digest"),
};

/** Generator versions of the attestation seeds. */
export const ATTESTATION_VERSIONS = ["v1.4.0", "v1.10.0"] as const;

async function loadSignatureSeeds(): Promise<SignatureSeed[]> {
  const dir = SEED_PATHS.signatures();
  const names = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".json")) names.push(e.name);
  names.sort();
  const out: SignatureSeed[] = [];
  for (const name of names) {
    const entries = JSON.parse(await Deno.readTextFile(`${dir}/${name}`)) as JsonObject[];
    out.push({ name, digest: `sha256:${name.slice(0, -5)}`, entries });
  }
  return out;
}

/** Repository, ref and workflow as the statement names them. */
function expectationsOf(statement: JsonObject): Expectations {
  const predicate = statement.predicate as JsonObject;
  const source = (predicate.invocation as JsonObject).configSource as JsonObject;
  const m = /^git\+https:\/\/github\.com\/([^@]+)@(.+)$/.exec(String(source.uri));
  if (!m) throw new Error(`unexpected configSource.uri ${source.uri}`);
  const [, repository, ref] = m;
  const workflow = String(source.entryPoint);
  return ref.startsWith("refs/heads/")
    ? { repository, workflow, branch: ref.slice("refs/heads/".length) }
    : { repository, workflow };
}

async function loadAttestationSeed(version: string): Promise<AttestationSeed> {
  const dir = SEED_PATHS.layout(version);
  const digest = (await Deno.readTextFile(SEED_PATHS.digest(version))).trim();
  const index = JSON.parse(await Deno.readTextFile(`${dir}/index.json`)) as {
    manifests: JsonObject[];
  };
  const kindOf = (m: JsonObject) => (m.annotations as Record<string, string> | undefined)?.kind;
  const imageEntry = index.manifests.find((m) => m.digest === digest);
  const attsEntry = index.manifests.find((m) => kindOf(m) === "dev.cosignproject.cosign/atts");
  if (!imageEntry || !attsEntry) throw new Error(`${dir}: no image or atts entry`);
  const blobs = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(`${dir}/blobs/sha256`)) {
    const path = `${dir}/blobs/sha256/${e.name}`;
    if ((await Deno.stat(path)).size <= SMALL_BLOB) blobs.set(e.name, await Deno.readFile(path));
  }
  const blob = (d: unknown) => {
    const b = blobs.get(String(d).slice(7));
    if (!b) throw new Error(`${dir}: blob ${d} missing`);
    return b;
  };
  const attsManifest = JSON.parse(utf8.decode(blob(attsEntry.digest))) as JsonObject;
  const layer = (attsManifest.layers as JsonObject[])[0];
  const envelope = blob(layer.digest);
  const annotations = layer.annotations as Record<string, string>;
  const bundle = JSON.parse(annotations["dev.sigstore.cosign/bundle"]);
  const body = JSON.parse(utf8.decode(unb64(bundle.Payload.body)!));
  const statement = JSON.parse(utf8.decode(unb64(JSON.parse(utf8.decode(envelope)).payload)!));
  if (sha256Hex(envelope) !== String(layer.digest).slice(7)) throw new Error("envelope digest");
  return {
    version,
    digest,
    imageEntry,
    attsManifest,
    layer,
    envelope,
    envelopeHashLogged: body.kind === "intoto" && body.apiVersion === "0.0.1",
    blobs,
    expect: expectationsOf(statement),
  };
}

/** Load every seed from `../shared/testdata`. */
export async function loadSeeds(): Promise<Seeds> {
  return {
    signatures: await loadSignatureSeeds(),
    attestations: await Promise.all(ATTESTATION_VERSIONS.map(loadAttestationSeed)),
    keyPath: SEED_PATHS.key(),
  };
}
