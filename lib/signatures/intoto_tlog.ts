/**
 * Keyless verification of cosign attestations whose Rekor entry is of kind
 * `intoto` version `0.0.1` (what cosign wrote before the `dsse` kind, e.g.
 * slsa-github-generator up to v1.9). `@sigstore/verify` only checks
 * `intoto` 0.0.2 bodies, so here the verification is split, every piece
 * done by the library or `node:crypto`:
 *
 * 1. the entry's inclusion promise (SET) is checked with `@sigstore/verify`'s
 *    own tlog inclusion check against the trusted root's Rekor keys valid at
 *    the integrated time (this authenticates body, log index and time);
 * 2. the entry body must be `intoto`/`0.0.1`, its `content.hash` the sha256 of
 *    the envelope bytes exactly as stored (and logged), its
 *    `content.payloadHash` the sha256 of the DSSE payload, and its
 *    `publicKey` this very certificate;
 * 3. `@sigstore/verify`'s `Verifier` then checks the DSSE signature, the
 *    Fulcio chain and SCTs at the (now authenticated) integrated time, and
 *    the identity policy, with the tlog entry taken out of its hands.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import {
  refuseSigstoreError,
  toSignedEntity,
  verifyEntity,
  verifyTlogInclusion,
} from "../sigstore/adapter.ts";
import { X509Certificate } from "../npm/sigstore_core.ts";
import { refuse } from "../errors/errors.ts";
import { cosignAttestationToBundle } from "./bundle_convert.ts";
import { isRecord } from "../json/record.ts";
import { toVerificationPolicy } from "../sigstore/identity.ts";
import type { CosignAttestation } from "./model.ts";
import { requireSubject, type VerifiedAttestation, type VerifyOptions } from "./verify.ts";

function sha256Hex(data: Uint8Array): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

/** Is this attestation's log entry the `intoto` 0.0.1 kind handled here? */
export function hasIntotoV001Entry(att: CosignAttestation): boolean {
  return att.bundle?.kind === "intoto" && att.bundle.kindVersion === "0.0.1";
}

function sameCertificate(b64pem: unknown, der: Uint8Array): boolean {
  if (typeof b64pem !== "string") return false;
  try {
    const pem = Buffer.from(b64pem, "base64").toString("utf8");
    return Buffer.compare(new crypto.X509Certificate(pem).raw, Buffer.from(der)) === 0;
  } catch {
    return false;
  }
}

/** Step 2: the logged body names this envelope, this payload and this certificate. */
function checkIntotoV001Body(att: CosignAttestation, envelopeBytes: Uint8Array): void {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(att.bundle!.body));
  } catch {
    refuse("TLOG_MISMATCH", "the Rekor entry body is not JSON");
  }
  if (!isRecord(body) || body.kind !== "intoto" || body.apiVersion !== "0.0.1") {
    refuse("TLOG_MISMATCH", "the Rekor entry is not an intoto 0.0.1 entry");
  }
  const spec = isRecord(body.spec) ? body.spec : {};
  const content = isRecord(spec.content) ? spec.content : {};
  const hash = isRecord(content.hash) ? content.hash : {};
  const payloadHash = isRecord(content.payloadHash) ? content.payloadHash : {};
  if (hash.algorithm !== "sha256" || hash.value !== sha256Hex(envelopeBytes)) {
    refuse("TLOG_MISMATCH", "the Rekor entry is for another DSSE envelope");
  }
  if (
    payloadHash.algorithm !== "sha256" ||
    payloadHash.value !== sha256Hex(att.envelope.payload)
  ) {
    refuse("TLOG_MISMATCH", "the Rekor entry is for another payload");
  }
  if (!sameCertificate(spec.publicKey, att.certificate!)) {
    refuse("TLOG_MISMATCH", "the Rekor entry names another certificate");
  }
}

/**
 * Verify a keyless cosign attestation logged as a Rekor `intoto` 0.0.1
 * entry. `envelopeBytes` are the DSSE envelope bytes as stored (the `.att`
 * layer blob, already checked against its digest); `att` must be parsed
 * from those same bytes. Requires `opts.identity` (keyless) and a Rekor entry.
 * When `subjectDigest` is given, a subject of the statement must carry it.
 * @throws VerificationError
 */
export function verifyIntotoV001Attestation(
  att: CosignAttestation,
  envelopeBytes: Uint8Array,
  opts: VerifyOptions & { subjectDigest?: string },
): VerifiedAttestation {
  if (!opts.identity || opts.key) {
    throw new TypeError("verifyIntotoV001Attestation: keyless only (pass `identity`)");
  }
  if (!hasIntotoV001Entry(att)) {
    refuse("TLOG_MISSING", "the attestation has no intoto 0.0.1 transparency-log entry");
  }
  if (!att.certificate) {
    refuse("CERTIFICATE_MISSING", "keyless verification needs a certificate and there is none");
  }
  let entity;
  try {
    entity = toSignedEntity(cosignAttestationToBundle(att, { certificate: att.certificate }));
  } catch (e) {
    refuseSigstoreError(e, { what: "cannot read the attestation" });
  }
  if (entity.tlogEntries.length !== 1) refuse("TLOG_INVALID", "expected one Rekor entry");
  const entry = entity.tlogEntries[0];
  // 1. inclusion promise, by the library, against the root's log keys.
  verifyTlogInclusion(entry, opts.trustedRoot, {
    what:
      "the Rekor signed entry timestamp does not verify with any log key of the trusted root valid at the integrated time",
  });
  // 2. the logged body is about this envelope, payload and certificate.
  checkIntotoV001Body(att, envelopeBytes);
  // 3. signature, chain + SCT at the integrated time, identity policy.
  const timestamps = entity.timestamps.filter((t) => t.$case === "transparency-log");
  if (timestamps.length !== 1 || entity.timestamps.length !== 1) {
    refuse("TIMESTAMP_INVALID", "expected exactly the Rekor entry as timestamp");
  }
  const signer = verifyEntity(
    { ...entity, tlogEntries: [] },
    { trustedRoot: opts.trustedRoot, thresholds: { tlogThreshold: 0, timestampThreshold: 1 } },
    toVerificationPolicy(opts.identity),
    { what: "the attestation does not verify" },
  );
  const integrated = new Date(att.bundle!.integratedTime * 1000);
  const leaf = X509Certificate.parse(Buffer.from(att.certificate));
  if (!leaf.validForDate(integrated)) {
    refuse("CERTIFICATE_INVALID", "the Rekor entry was made outside the certificate's validity");
  }
  let statement: unknown;
  try {
    statement = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(att.envelope.payload));
  } catch {
    refuse("PAYLOAD_INVALID", "the attestation payload is not JSON");
  }
  if (opts.subjectDigest !== undefined) requireSubject(statement, opts.subjectDigest);
  const b = att.bundle!;
  return {
    payloadType: att.envelope.payloadType,
    statement,
    tlog: {
      logID: b.logID,
      logIndex: b.logIndex,
      integratedTime: b.integratedTime,
      kind: b.kind,
      kindVersion: b.kindVersion,
    },
    signer: {
      type: "certificate",
      subjectAlternativeName: signer.identity?.subjectAlternativeName,
      issuer: signer.identity?.extensions?.issuer,
    },
  };
}
