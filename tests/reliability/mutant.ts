/**
 * What a mutant is, and its "verified view": the content a correct verifier
 * must look at, decoded the way a strict decoder does. A mutant whose view
 * equals the original's changed nothing that is signed or checked (e.g.
 * non-zero base64 padding bits, a DSSE `keyid`, the unused `chain`) and is
 * classified as a no-op: it may be accepted, and the report says so
 * separately. Every other mutant must be rejected.
 *
 * What the views leave out, and why:
 * - signature lists: `Cert` and `Chain` (with a trusted key cosign and this
 *   tool ignore them: not signed, not used);
 * - attestations: the DSSE `keyid` (not covered by the DSSE PAE), the
 *   `dev.sigstore.cosign/chain` annotation (never trusted: the trusted
 *   root's Fulcio CAs are used), the `dev.cosignproject.cosign/signature`
 *   and `predicateType` annotations and the layer `mediaType` (not read for
 *   attestations), and the envelope's JSON formatting when the Rekor entry
 *   is `dsse` (only its payload and signatures are logged; for `intoto`
 *   0.0.1 entries the envelope bytes are hashed into the log and are part
 *   of the view).
 *
 * @module
 */

import { hex, sha256Hex, unb64, utf8 } from "./encoding.ts";
import type { Expectations } from "./seeds.ts";

/** What must happen to a mutant. */
export type Expected = "reject" | "accept" | "either";

/** Common fields. */
export interface MutantBase {
  /** Position in the campaign (stable for a seed and count). */
  id: number;
  /** Family for the report, e.g. `sig.bitflip.signature`. */
  family: string;
  /** What was changed, to reproduce and explain. */
  description: string;
  /** `reject` for real mutants, `accept` for controls, `either` for classified no-ops. */
  expected: Expected;
  /** Why a no-op is one. */
  noopReason?: string;
}

/** A `cosign download signature` list verified with the Dangerzone test key. */
export interface SignatureMutant extends MutantBase {
  target: "signature";
  /** The list document. */
  text: string;
  /** The digest it is verified for. */
  digest: string;
}

/** A `cosign save` layout with a (mutated) attestation, verified by `verifyProvenance`. */
export interface AttestationMutant extends MutantBase {
  target: "attestation";
  /** Version whose image the layout resolves to. */
  image: string;
  /** The `.att` manifest bytes (written at their own digest). */
  manifest: Uint8Array;
  /** Extra blobs written after the image's blobs (hex name → bytes). */
  blobs: { hex: string; bytes: Uint8Array }[];
  /** The user's expectations (`--repository`, `--workflow`, `--branch`). */
  expect: Expectations;
}

/** Either kind. */
export type Mutant = SignatureMutant | AttestationMutant;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A base64 field as a strict decoder sees it. */
function b64View(v: unknown): unknown {
  const bytes = unb64(v);
  return bytes ? `b64:${hex(bytes)}` : ["not-b64", v];
}

function rekorView(b: unknown): unknown {
  if (!isRecord(b)) return ["raw", b];
  const p = b.Payload;
  return {
    set: b64View(b.SignedEntryTimestamp),
    payload: isRecord(p)
      ? [b64View(p.body), p.integratedTime, p.logIndex, p.logID, Object.keys(p).sort()]
      : ["raw", p],
    keys: Object.keys(b).sort(),
  };
}

function entryView(e: unknown): unknown {
  if (!isRecord(e)) return ["raw", e];
  return {
    signature: b64View(e.Base64Signature),
    payload: b64View(e.Payload),
    bundle: rekorView(e.Bundle),
    rfc3161: e.RFC3161Timestamp ?? null,
  };
}

/** The verified view of a signature list document for `digest`. */
export function signatureListView(text: string, digest: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return JSON.stringify(["unparseable", text]);
  }
  // A single JSON object is the JSON-lines form of a one-entry list (`cosign download signature`).
  const list = Array.isArray(doc) ? doc : isRecord(doc) ? [doc] : undefined;
  return JSON.stringify([digest, list ? list.map(entryView) : ["raw", doc]]);
}

function pemView(v: unknown): unknown {
  if (typeof v !== "string") return ["raw", v];
  const m = /^\s*-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=\n]+)-----END CERTIFICATE-----\s*$/
    .exec(v);
  return m ? b64View(m[1].replace(/\n/g, "")) : ["raw", v];
}

function envelopeView(env: Uint8Array, hashLogged: boolean): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(env));
  } catch {
    return ["raw", hex(env)];
  }
  if (!isRecord(doc)) return ["raw", doc];
  const sigs = doc.signatures;
  return {
    payloadType: doc.payloadType,
    payload: b64View(doc.payload),
    signatures: Array.isArray(sigs)
      ? sigs.map((s) => isRecord(s) ? b64View(s.sig) : ["raw", s])
      : ["raw", sigs],
    logged: hashLogged ? sha256Hex(env) : null,
  };
}

function layerView(
  l: unknown,
  blobs: Map<string, Uint8Array>,
  hashLogged: boolean,
): unknown {
  if (!isRecord(l)) return ["raw", l];
  const name = typeof l.digest === "string" ? l.digest.slice(7) : "";
  const env = blobs.get(name);
  const honest = env !== undefined && l.digest === `sha256:${sha256Hex(env)}` &&
    l.size === env.length;
  const a = l.annotations;
  const ann = isRecord(a)
    ? {
      certificate: pemView(a["dev.sigstore.cosign/certificate"]),
      bundle: (() => {
        const s = a["dev.sigstore.cosign/bundle"];
        if (typeof s !== "string") return ["raw", s];
        try {
          return rekorView(JSON.parse(s));
        } catch {
          return ["unparseable", s];
        }
      })(),
      rfc3161: a["dev.sigstore.cosign/rfc3161timestamp"] ?? null,
      types: Object.values(a).map((v) => typeof v),
    }
    : ["raw", a];
  return {
    honest,
    envelope: env ? envelopeView(env, hashLogged) : ["missing", l.digest],
    annotations: ann,
  };
}

/**
 * The verified view of an attestation layout: which image, the `.att`
 * manifest's layers (envelope, certificate, Rekor entry, honesty of the
 * content address), and the expectations. `blobs` are every blob of the
 * layout by hex name.
 */
export function attestationView(
  image: string,
  manifest: Uint8Array,
  blobs: Map<string, Uint8Array>,
  expect: Expectations,
  hashLogged: boolean,
): string {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(manifest));
  } catch {
    return JSON.stringify(["unparseable", hex(manifest)]);
  }
  const view = isRecord(doc)
    ? {
      ...Object.fromEntries(Object.entries(doc).filter(([k]) => k !== "layers")),
      layers: Array.isArray(doc.layers)
        ? doc.layers.map((l) => layerView(l, blobs, hashLogged))
        : ["raw", doc.layers],
    }
    : ["raw", doc];
  return JSON.stringify({ image, expect, manifest: view });
}

/** Text of a mutant for dedup (same content → same key). */
export function mutantKey(m: Mutant): string {
  if (m.target === "signature") return sha256Hex(`sig\0${m.digest}\0${m.text}`);
  const parts = [
    "att",
    m.image,
    JSON.stringify(m.expect),
    sha256Hex(m.manifest),
    ...m.blobs.map((b) => `${b.hex}:${sha256Hex(b.bytes)}`),
  ];
  return sha256Hex(parts.join("\0"));
}

/** Decode helper re-exported for generators. */
export { utf8 };
