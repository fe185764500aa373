/**
 * The mutation campaign's generator: from the real signatures and
 * attestations ({@linkcode loadSeeds}) and a seed, a reproducible list of
 * distinct mutants, each classified by comparing its verified view with the
 * original's (see `mutant.ts`): `reject` when signed or checked content
 * changed, `either` for a no-op (with its reason). Also the controls: the
 * unmodified originals, which must be accepted (otherwise every "rejection"
 * would prove nothing).
 *
 * @module
 */

import { ATTESTATION_OPERATORS, type AttestationDraft } from "./attestation_mutants.ts";
import { sha256Hex, utf8 } from "./encoding.ts";
import {
  type AttestationMutant,
  attestationView,
  type Mutant,
  mutantKey,
  signatureListView,
  type SignatureMutant,
} from "./mutant.ts";
import { createRng, type Rng } from "./prng.ts";
import type { AttestationSeed, Seeds } from "./seeds.ts";
import {
  type SeedEntry,
  SIGNATURE_OPERATORS,
  type SignatureContext,
  type SignatureDraft,
} from "./signature_mutants.ts";

/** Seed of the CI run. */
export const DEFAULT_SEED = 20240610;
/** Mutants in the CI run. */
export const DEFAULT_COUNT = 1200;

/** Generator options. */
export interface GenerateOptions {
  seed: number;
  count: number;
}

/** A generated campaign. */
export interface Campaign {
  seed: number;
  /** Unmodified originals: must be accepted. */
  controls: Mutant[];
  /** The mutants (distinct), ids 1…n. */
  mutants: Mutant[];
  /** Every family that can be generated, signature ones first. */
  families: string[];
}

const NOOP_DEFAULT = "decodes to exactly the verified content of the original";

interface Op {
  family: string;
  weight: number;
  /** A mutant, or undefined when the operator happened to change nothing. */
  build(rng: Rng): Omit<Mutant, "id"> | undefined;
}

function signatureMutant(
  family: string,
  d: SignatureDraft,
): Omit<SignatureMutant, "id"> | undefined {
  const text = d.raw ?? JSON.stringify(d.list);
  if (text === d.base.text && d.digest === d.base.digest) return undefined; // nothing changed
  const same = signatureListView(text, d.digest) === signatureListView(d.base.text, d.base.digest);
  return {
    target: "signature",
    family,
    description: d.description,
    text,
    digest: d.digest,
    expected: same ? "either" : "reject",
    ...(same ? { noopReason: d.noopReason ?? NOOP_DEFAULT } : {}),
  };
}

function manifestBytesOf(seed: AttestationSeed): Uint8Array {
  // The view parses the manifest, so its JSON text form is equivalent to the stored bytes.
  return utf8.encode(JSON.stringify(seed.attsManifest));
}

/** Turn a draft into a mutant, classified against its seed. */
export function attestationMutant(
  family: string,
  d: AttestationDraft,
): Omit<AttestationMutant, "id"> | undefined {
  const layer = structuredClone(d.layer);
  if (!d.keepAddress) {
    layer.digest = `sha256:${sha256Hex(d.envelope)}`;
    layer.size = d.envelope.length;
  }
  let manifest: unknown = { ...structuredClone(d.seed.attsManifest), layers: [layer] };
  if (d.manifestEdit) manifest = d.manifestEdit(manifest as Record<string, unknown>);
  const bytes = d.manifestRaw ?? utf8.encode(JSON.stringify(manifest));
  const blobs = [
    { hex: d.storeAs ?? sha256Hex(d.envelope), bytes: d.envelope },
    ...(d.extraBlobs ?? []),
  ];
  const all = new Map(d.image.blobs);
  for (const b of blobs) all.set(b.hex, b.bytes);
  const logged = d.seed.envelopeHashLogged;
  const view = attestationView(d.image.version, bytes, all, d.expect, logged);
  const base = attestationView(
    d.seed.version,
    manifestBytesOf(d.seed),
    d.seed.blobs,
    d.seed.expect,
    logged,
  );
  if (d.forcedNoop) {
    return {
      target: "attestation",
      family,
      description: d.description,
      image: d.image.version,
      manifest: bytes,
      blobs,
      expect: d.expect,
      expected: "either",
      noopReason: d.forcedNoop,
    };
  }
  const same = view === base;
  const identical = same && d.image === d.seed && !d.storeAs &&
    sha256Hex(bytes) === sha256Hex(manifestBytesOf(d.seed)) &&
    sha256Hex(d.envelope) === sha256Hex(d.seed.envelope);
  if (identical && family !== "control") return undefined; // nothing changed
  return {
    target: "attestation",
    family,
    description: d.description,
    image: d.image.version,
    manifest: bytes,
    blobs,
    expect: d.expect,
    expected: same ? "either" : "reject",
    ...(same ? { noopReason: d.noopReason ?? NOOP_DEFAULT } : {}),
  };
}

function operators(seeds: Seeds): Op[] {
  const entries: SeedEntry[] = seeds.signatures.flatMap((seed) =>
    seed.entries.map((entry, index) => ({ seed, entry, index }))
  );
  const cert = String(
    (seeds.attestations[0].layer.annotations as Record<string, string>)[
      "dev.sigstore.cosign/certificate"
    ],
  );
  return [
    ...SIGNATURE_OPERATORS.map((op): Op => ({
      family: op.family,
      weight: op.weight,
      build: (rng) => {
        const ctx: SignatureContext = { rng, entries, foreignCertPem: cert };
        return signatureMutant(op.family, op.make(ctx));
      },
    })),
    ...ATTESTATION_OPERATORS.map((op): Op => ({
      family: op.family,
      weight: op.weight,
      build: (rng) => attestationMutant(op.family, op.make({ rng, seeds: seeds.attestations })),
    })),
  ];
}

/** The unmodified originals. */
export function controls(seeds: Seeds): Mutant[] {
  const out: Mutant[] = [];
  for (const s of seeds.signatures) {
    out.push({
      id: -(out.length + 1),
      target: "signature",
      family: "control",
      description: `${s.name}: unmodified list`,
      text: JSON.stringify(s.entries),
      digest: s.digest,
      expected: "accept",
    });
  }
  for (const seed of seeds.attestations) {
    const m = attestationMutant("control", {
      description: `${seed.version}: unmodified attestation`,
      seed,
      image: seed,
      envelope: seed.envelope,
      layer: structuredClone(seed.layer),
      expect: { ...seed.expect },
    });
    out.push({ ...m!, id: -(out.length + 1), expected: "accept", noopReason: undefined });
  }
  return out;
}

/**
 * Generate `count` distinct mutants with the PRNG seeded by `seed`
 * (operators picked by weight; duplicates regenerated).
 */
export function generateMutants(seeds: Seeds, opts: GenerateOptions): Campaign {
  const rng = createRng(opts.seed);
  const ops = operators(seeds);
  const total = ops.reduce((n, o) => n + o.weight, 0);
  const seen = new Set<string>();
  const mutants: Mutant[] = [];
  let attempts = 0;
  while (mutants.length < opts.count && attempts < opts.count * 5) {
    attempts++;
    let r = rng.int(total);
    const op = ops.find((o) => (r -= o.weight) < 0)!;
    let m: Omit<Mutant, "id"> | undefined;
    try {
      m = op.build(rng);
    } catch (e) {
      throw new Error(`generator bug in ${op.family}: ${(e as Error).message}`, { cause: e });
    }
    if (!m) continue;
    const mutant = { ...m, id: mutants.length + 1 } as Mutant;
    const key = mutantKey(mutant);
    if (seen.has(key)) continue;
    seen.add(key);
    mutants.push(mutant);
  }
  return {
    seed: opts.seed,
    controls: controls(seeds),
    mutants,
    families: ops.map((o) => o.family),
  };
}
