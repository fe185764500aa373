/**
 * The in-memory model of cosign's legacy signature material, shared by the
 * `cosign download signature` list parser, the `.sig` / `.att` manifest layer
 * parsers, the verifier and the store. Every field is already decoded and
 * type-checked; `raw` keeps the entry in the `cosign download signature`
 * JSON shape for storing.
 *
 * @module
 */

/** The Rekor entry cosign attaches (`Bundle` / `dev.sigstore.cosign/bundle`). */
export interface RekorBundle {
  /** Decoded `SignedEntryTimestamp` (the log's signature over the entry). */
  signedEntryTimestamp: Uint8Array;
  /** Decoded `Payload.body`: the canonicalized Rekor entry body (JSON). */
  body: Uint8Array;
  /** `Payload.integratedTime` (seconds since the epoch). */
  integratedTime: number;
  /** `Payload.logIndex`. */
  logIndex: number;
  /** `Payload.logID`: lowercase hex sha256 of the log's public key. */
  logID: string;
  /** `kind` read from the body (`hashedrekord`, `dsse`, `intoto`, …). */
  kind: string;
  /** `apiVersion` read from the body. */
  kindVersion: string;
}

/** One entry of the `cosign download signature` JSON list, as cosign writes it. */
export interface CosignDownloadEntry {
  Base64Signature: string;
  Payload: string;
  Cert: unknown;
  Chain: unknown;
  Bundle: {
    SignedEntryTimestamp: string;
    Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
  } | null;
  RFC3161Timestamp: { SignedRFC3161Timestamp: string } | null;
}

/** One cosign signature over a simple-signing payload. */
export interface CosignSignature {
  /** Decoded signature bytes. */
  signature: Uint8Array;
  /** Decoded simple-signing payload bytes (what was signed). */
  payload: Uint8Array;
  /** Leaf certificate (DER) for keyless signatures. */
  certificate?: Uint8Array;
  /** Rest of the certificate chain (DER), never trusted by itself. */
  chain?: Uint8Array[];
  /** The Rekor entry, when logged. */
  bundle?: RekorBundle;
  /** RFC 3161 signed timestamp (DER), when present. */
  rfc3161Timestamp?: Uint8Array;
  /** The entry in `cosign download signature` form. */
  raw: CosignDownloadEntry;
}

/** A DSSE envelope (`application/vnd.dsse.envelope.v1+json`). */
export interface DsseEnvelope {
  payloadType: string;
  payload: Uint8Array;
  signatures: { keyid: string; sig: Uint8Array }[];
}

/** One cosign attestation: a DSSE envelope layer of an `.att` manifest. */
export interface CosignAttestation {
  envelope: DsseEnvelope;
  /** Leaf certificate (DER) for keyless attestations. */
  certificate?: Uint8Array;
  chain?: Uint8Array[];
  bundle?: RekorBundle;
  rfc3161Timestamp?: Uint8Array;
}
