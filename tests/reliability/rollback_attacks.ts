/**
 * Rollback attack families for `deno task reliability`: seeded cases built
 * the way an attacker with the registry but not the key builds them, with
 * REAL entries in the loopback Rekor, each run through the product's own
 * verification (`verifiedSignaturesFor`) and rollback rule
 * (`assertNotRollback` against the state of the newer image installed).
 * Families:
 *
 * - `rollback.relog-twin-sig`: the ECDSA twin of an older image's legacy
 *   `.sig` signature logged as a new hashedrekord entry;
 * - `rollback.relog-twin-dsse`: the twin of an older image's cosign v3 DSSE
 *   signature logged as a new dsse entry;
 * - `rollback.dsse-as-hashedrekord`: an older DSSE signature logged again as
 *   a hashedrekord over its PAE, carried in a DSSE bundle;
 * - `rollback.forged-position`: the older bundle with its signed entry
 *   timestamp deleted and log index / integrated time rewritten;
 * - `rollback.rewritten-index`: the older bundle's entry index rewritten,
 *   SET kept.
 *
 * Controls: the newer image's own signatures, and an image built later
 * still, must be accepted (otherwise a refusal would prove nothing).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { dsse } from "@sigstore/core";
import { startLocalSigstore } from "../../scripts/local_sigstore.ts";
import { KeyObjectSigner } from "../../lib/keys/signer.ts";
import { cosignSignStatement } from "../../lib/publish/bundle_sign.ts";
import { createDsseBundle, createMessageBundle } from "../../lib/publish/bundle_builders.ts";
import { IN_TOTO_PAYLOAD_TYPE } from "../../lib/bundle/statement.ts";
import { simpleSigningPayload } from "../../lib/publish/simple_signing.ts";
import { parseCosignEntry } from "../../lib/signatures/cosign_list.ts";
import type { CosignSignature } from "../../lib/signatures/model.ts";
import { parseTrustedKey } from "../../lib/trust/trusted_key.ts";
import { parseTrustedRoot } from "../../lib/trust/trusted_root.ts";
import { positionsOf, verifiedSignaturesFor } from "../../lib/update/verified_set.ts";
import { assertNotRollback, nextImageState } from "../../lib/store/rollback_state.ts";
import { acceptedIdentities } from "../../lib/signatures/signed_identity.ts";
import { ecdsaTwin, replaySigner } from "../helpers/attacker.ts";
import type { FamilyRow } from "./campaign.ts";
import { createRng } from "./prng.ts";
import { DzError } from "../../lib/errors/errors.ts";
import { exitStatusOf } from "../../lib/cli/exit_codes.ts";

/** The families, in table order. */
export const ROLLBACK_FAMILIES = [
  "rollback.control",
  "rollback.relog-twin-sig",
  "rollback.relog-twin-dsse",
  "rollback.dsse-as-hashedrekord",
  "rollback.forged-position",
  "rollback.rewritten-index",
] as const;

/** Cases per attack family in the CI run. */
export const DEFAULT_ROLLBACK_CASES = 8;

const REPO = "registry.example/dz/app";
const OLD = `sha256:${"a1".repeat(32)}`;
const NEW = `sha256:${"b2".repeat(32)}`;
const LATER = `sha256:${"c3".repeat(32)}`;
const CREATED = {
  [OLD]: Date.parse("2025-01-01T00:00:00Z"),
  [NEW]: Date.parse("2025-06-01T00:00:00Z"),
  [LATER]: Date.parse("2025-09-01T00:00:00Z"),
};

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

interface Outcome {
  family: string;
  accepted: boolean;
  crashed?: string;
}

/** Run `perFamily` seeded cases of every family; controls must be accepted. */
export async function runRollbackCases(
  seed: number,
  perFamily = DEFAULT_ROLLBACK_CASES,
): Promise<{ rows: FamilyRow[]; problems: string[] }> {
  const rng = createRng(seed);
  const sigstore = await startLocalSigstore();
  const outcomes: Outcome[] = [];
  try {
    const root = parseTrustedRoot(structuredClone(sigstore.trustedRoot), "local");
    const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    const signer = new KeyObjectSigner(privateKey);
    const pem = signer.publicKeyPem();
    const key = parseTrustedKey(new TextEncoder().encode(pem), "lab key");
    const identities = acceptedIdentities(REPO);

    const legacy = async (digest: string, s = signer): Promise<CosignSignature> => {
      const payload = simpleSigningPayload(REPO, digest);
      const { signature, rekor } = await createMessageBundle({
        bytes: payload,
        signer: s,
        rekorUrl: sigstore.rekorUrl,
      });
      const r = rekor!;
      return parseCosignEntry({
        Base64Signature: b64(signature),
        Payload: b64(payload),
        Cert: null,
        Chain: null,
        Bundle: {
          SignedEntryTimestamp: r.signedEntryTimestamp,
          Payload: {
            body: r.body,
            integratedTime: r.integratedTime,
            logIndex: r.logIndex,
            logID: r.logID,
          },
        },
        RFC3161Timestamp: null,
      });
    };
    const bundle = async (digest: string, s = signer) =>
      (await createDsseBundle({
        payload: cosignSignStatement(digest),
        signer: s,
        rekorUrl: sigstore.rekorUrl,
      }))
        .bundle;

    // The old image was signed first, then the new one, which this machine installed.
    const oldSig = await legacy(OLD);
    const oldBundle = await bundle(OLD);
    const newSigs = [await legacy(NEW)];
    const installed = verifiedSignaturesFor(newSigs, NEW, key, root, [], identities);
    const state = nextImageState(REPO, undefined, {
      digest: NEW,
      created: CREATED[NEW],
      positions: positionsOf(installed),
    });

    const judge = async (
      family: string,
      digest: string,
      make: () => Promise<{ sigs: CosignSignature[]; bundles: unknown[] }>,
    ) => {
      try {
        const { sigs, bundles } = await make();
        let accepted = true;
        try {
          const v = verifiedSignaturesFor(sigs, digest, key, root, bundles, identities);
          assertNotRollback(state, { digest, created: CREATED[digest], positions: positionsOf(v) });
        } catch (e) {
          if (!(e instanceof DzError) || exitStatusOf(e) !== 1) {
            throw e;
          }
          accepted = false;
        }
        outcomes.push({ family, accepted });
      } catch (e) {
        outcomes.push({ family, accepted: false, crashed: String((e as Error)?.stack ?? e) });
      }
    };

    const oldEnv =
      (oldBundle as { dsseEnvelope: { payload: string; signatures: { sig: string }[] } })
        .dsseEnvelope;
    const entryOf = (b: unknown) =>
      (b as { verificationMaterial: { tlogEntries: Record<string, unknown>[] } })
        .verificationMaterial.tlogEntries[0];

    for (let i = 0; i < perFamily; i++) {
      await judge(
        "rollback.control",
        i % 2 ? NEW : LATER,
        async () =>
          i % 2 ? { sigs: newSigs, bundles: [] } : { sigs: [], bundles: [await bundle(LATER)] },
      );

      await judge("rollback.relog-twin-sig", OLD, async () => {
        const twin = await legacy(OLD, replaySigner(pem, ecdsaTwin(oldSig.signature)) as never);
        return { sigs: rng.int(2) ? [twin] : [oldSig, twin], bundles: [] };
      });

      await judge("rollback.relog-twin-dsse", OLD, async () => {
        const relogged = await createDsseBundle({
          payload: unb64(oldEnv.payload),
          signer: replaySigner(pem, ecdsaTwin(unb64(oldEnv.signatures[0].sig))),
          rekorUrl: sigstore.rekorUrl,
        });
        return { sigs: [], bundles: [relogged.bundle] };
      });

      await judge("rollback.dsse-as-hashedrekord", OLD, async () => {
        const pae = dsse.preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, Buffer.from(unb64(oldEnv.payload)));
        const logged = await createMessageBundle({
          bytes: new Uint8Array(pae),
          signer: replaySigner(pem, unb64(oldEnv.signatures[0].sig)),
          rekorUrl: sigstore.rekorUrl,
        });
        const b = structuredClone(oldBundle) as {
          verificationMaterial: { tlogEntries: unknown[] };
        };
        b.verificationMaterial.tlogEntries = [entryOf(logged.bundle)];
        return { sigs: [], bundles: [b] };
      });

      await judge("rollback.forged-position", OLD, () => {
        const b = structuredClone(oldBundle);
        const e = entryOf(b);
        delete e.inclusionPromise;
        const far = String(1e9 + rng.int(8e9));
        e.logIndex = far;
        e.integratedTime = String(2e9 + rng.int(1e9));
        if (rng.int(2) && e.inclusionProof) {
          (e.inclusionProof as Record<string, unknown>).logIndex = far;
        }
        return Promise.resolve({ sigs: [], bundles: [b] });
      });

      await judge("rollback.rewritten-index", OLD, () => {
        const b = structuredClone(oldBundle);
        entryOf(b).logIndex = String(Number(entryOf(b).logIndex) + 1 + rng.int(1e6));
        return Promise.resolve({ sigs: [], bundles: [b] });
      });
    }
  } finally {
    await sigstore.close();
  }

  const rows: FamilyRow[] = ROLLBACK_FAMILIES.map((family) => {
    const of = outcomes.filter((o) => o.family === family);
    const control = family === "rollback.control";
    return {
      family,
      tried: of.length,
      rejected: of.filter((o) => !o.accepted && !o.crashed).length,
      accepted: control ? 0 : of.filter((o) => o.accepted).length,
      crashed: of.filter((o) => o.crashed).length,
      hung: 0,
      noop: 0,
      noopAccepted: 0,
    };
  });
  const problems = [
    ...outcomes.filter((o) => o.crashed).map((o) => `${o.family} crashed: ${o.crashed}`),
    ...outcomes.filter((o) => o.family === "rollback.control" && !o.accepted).map(() =>
      "rollback.control: a legitimate newer image was refused"
    ),
    ...outcomes.filter((o) => o.family !== "rollback.control" && o.accepted).map((o) =>
      `${o.family}: an older image was ACCEPTED over the installed one`
    ),
  ];
  return { rows, problems };
}
