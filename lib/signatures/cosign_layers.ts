/**
 * Read cosign's legacy OCI artifacts into the signature model: the
 * `sha256-<hex>.sig` manifest (each layer's blob is a simple-signing payload,
 * its annotations carry `dev.cosignproject.cosign/signature`,
 * `dev.sigstore.cosign/bundle`, `…/certificate`, `…/chain`,
 * `…/rfc3161timestamp`) and the `.att` manifest (each layer's blob is a DSSE
 * envelope with the same annotations). Nothing here fetches; callers hand in
 * the manifest JSON and the layer bytes they already checked against the
 * layer digest.
 *
 * @module
 */

import { SignatureFormatError } from "../errors/errors.ts";
import { encodeBase64 } from "../encoding/base64.ts";
import {
  b64Field,
  bad,
  parsePemCertificates,
  parseRekorBundle,
  parseRfc3161,
  rawBundle,
} from "./fields.ts";
import { isRecord } from "../json/record.ts";
import type { CosignAttestation, CosignSignature, DsseEnvelope } from "./model.ts";
import { isDigest } from "../digest/digest.ts";

/** Annotation keys cosign puts on signature / attestation layers. */
export const ANNOTATIONS = {
  signature: "dev.cosignproject.cosign/signature",
  bundle: "dev.sigstore.cosign/bundle",
  certificate: "dev.sigstore.cosign/certificate",
  chain: "dev.sigstore.cosign/chain",
  rfc3161: "dev.sigstore.cosign/rfc3161timestamp",
} as const;

/** A layer descriptor of a `.sig` / `.att` manifest. */
export interface CosignLayer {
  mediaType: string;
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

/**
 * The layers of a cosign `.sig` / `.att` image manifest, type-checked.
 * @throws SignatureFormatError
 */
export function cosignManifestLayers(manifest: unknown): CosignLayer[] {
  if (!isRecord(manifest) || !Array.isArray(manifest.layers)) {
    throw new SignatureFormatError("the signature manifest has no layers list");
  }
  return manifest.layers.map((l, i) => {
    const f = `layer ${i + 1}`;
    if (!isRecord(l)) bad(f, "is not an object");
    if (typeof l.mediaType !== "string") bad(`${f} mediaType`, "is not a string");
    if (!isDigest(l.digest)) {
      bad(`${f} digest`, "is not a sha256 digest");
    }
    if (typeof l.size !== "number" || !Number.isSafeInteger(l.size) || l.size < 0) {
      bad(`${f} size`, "is not a size");
    }
    const annotations: Record<string, string> = {};
    if (l.annotations !== undefined) {
      if (!isRecord(l.annotations)) bad(`${f} annotations`, "is not an object");
      for (const [k, v] of Object.entries(l.annotations)) {
        if (typeof v !== "string") bad(`${f} annotation ${k}`, "is not a string");
        annotations[k] = v;
      }
    }
    return { mediaType: l.mediaType, digest: l.digest, size: l.size, annotations };
  });
}

interface Extras {
  certificate?: Uint8Array;
  chain?: Uint8Array[];
  bundle?: CosignSignature["bundle"];
  rfc3161Timestamp?: Uint8Array;
}

function extrasFrom(annotations: Record<string, string>, field: string): Extras {
  const out: Extras = {};
  const cert = annotations[ANNOTATIONS.certificate];
  if (cert !== undefined && cert !== "") {
    const certs = parsePemCertificates(cert, `${field} certificate annotation`);
    if (certs.length !== 1) {
      bad(`${field} certificate annotation`, "holds more than one certificate");
    }
    out.certificate = certs[0];
  }
  const chain = annotations[ANNOTATIONS.chain];
  if (chain !== undefined && chain !== "") {
    out.chain = parsePemCertificates(chain, `${field} chain annotation`);
  }
  const bundle = annotations[ANNOTATIONS.bundle];
  if (bundle !== undefined && bundle !== "") {
    let json: unknown;
    try {
      json = JSON.parse(bundle);
    } catch {
      bad(`${field} bundle annotation`, "is not JSON");
    }
    out.bundle = parseRekorBundle(json, `${field} bundle annotation`);
  }
  const ts = annotations[ANNOTATIONS.rfc3161];
  if (ts !== undefined && ts !== "") {
    let json: unknown;
    try {
      json = JSON.parse(ts);
    } catch {
      bad(`${field} rfc3161timestamp annotation`, "is not JSON");
    }
    out.rfc3161Timestamp = parseRfc3161(json, `${field} rfc3161timestamp annotation`);
  }
  return out;
}

function pemToGoCert(der: Uint8Array): { Raw: string } {
  return { Raw: encodeBase64(der) };
}

/**
 * One `.sig` layer → a {@linkcode CosignSignature} (with its download-list
 * form in `raw`, certificates as `{Raw: base64 DER}`).
 * @throws SignatureFormatError
 */
export function signatureFromLayer(
  payload: Uint8Array,
  annotations: Record<string, string>,
  field = "layer",
): CosignSignature {
  if (payload.length === 0) bad(`${field} payload`, "is empty");
  const b64sig = annotations[ANNOTATIONS.signature];
  const signature = b64Field(b64sig, `${field} signature annotation`);
  const x = extrasFrom(annotations, field);
  return {
    signature,
    payload,
    ...x,
    raw: {
      Base64Signature: b64sig,
      Payload: encodeBase64(payload),
      Cert: x.certificate ? pemToGoCert(x.certificate) : null,
      Chain: x.chain ? x.chain.map(pemToGoCert) : null,
      Bundle: x.bundle ? rawBundle(x.bundle) : null,
      RFC3161Timestamp: x.rfc3161Timestamp
        ? { SignedRFC3161Timestamp: encodeBase64(x.rfc3161Timestamp) }
        : null,
    },
  };
}

/**
 * Parse a DSSE envelope (exactly one signature, as cosign and the verifier expect).
 * @throws SignatureFormatError
 */
function parseDsseEnvelope(
  bytes: Uint8Array | string,
  field = "DSSE envelope",
): DsseEnvelope {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === "string" ? bytes : new TextDecoder().decode(bytes));
  } catch {
    bad(field, "is not JSON");
  }
  if (!isRecord(json)) bad(field, "is not an object");
  if (typeof json.payloadType !== "string" || json.payloadType === "") {
    bad(`${field} payloadType`, "is not a string");
  }
  const payload = b64Field(json.payload, `${field} payload`);
  if (!Array.isArray(json.signatures) || json.signatures.length !== 1) {
    bad(`${field} signatures`, "must hold exactly one signature");
  }
  const signatures = json.signatures.map((s, i) => {
    if (!isRecord(s)) bad(`${field} signatures[${i}]`, "is not an object");
    const keyid = s.keyid ?? "";
    if (typeof keyid !== "string") bad(`${field} signatures[${i}].keyid`, "is not a string");
    return { keyid, sig: b64Field(s.sig, `${field} signatures[${i}].sig`) };
  });
  return { payloadType: json.payloadType, payload, signatures };
}

/**
 * One `.att` layer (DSSE envelope blob + annotations) → a {@linkcode CosignAttestation}.
 * @throws SignatureFormatError
 */
export function attestationFromLayer(
  envelope: Uint8Array,
  annotations: Record<string, string>,
  field = "attestation layer",
): CosignAttestation {
  return {
    envelope: parseDsseEnvelope(envelope, `${field} envelope`),
    ...extrasFrom(annotations, field),
  };
}
