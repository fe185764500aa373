/**
 * Worker side of the mutation campaign: verifies one mutant per message
 * with the real code paths and reports how it ended. Runs in a Web Worker
 * so that the main thread's watchdog can terminate it when a (synchronous)
 * verification never returns.
 *
 * - signature mutants: `verifySignatureListText` with the Dangerzone test
 *   key and the embedded public-good trusted root;
 * - attestation mutants: written as a `cosign save` OCI layout in a fresh
 *   temp dir, verified with `verifyProvenance` over a `LayoutSource`;
 * - probe mutants (harness self-test only): accept, crash, or hang on purpose.
 *
 * @module
 */

import { DzError } from "../../lib/errors/errors.ts";
import { exitStatusOf } from "../../lib/cli/exit_codes.ts";
import { LayoutSource } from "../../lib/image/source.ts";
import { OciLayout } from "../../lib/oci/layout.ts";
import { verifyProvenance } from "../../lib/provenance/verify_provenance.ts";
import { verifySignatureListText } from "../../lib/signatures/verify.ts";
import { loadTrustedKey, type TrustedKey } from "../../lib/trust/trusted_key.ts";
import { type LoadedTrustedRoot, publicGoodTrustedRoot } from "../../lib/trust/trusted_root.ts";
import { sha256Hex } from "./encoding.ts";
import type { AttestationMutant, Mutant, SignatureMutant } from "./mutant.ts";
import { type AttestationSeed, loadSeeds } from "./seeds.ts";
import type { ProbeMutant, WorkerRequest, WorkerResponse } from "./campaign_protocol.ts";

interface Env {
  key: TrustedKey;
  trustedRoot: LoadedTrustedRoot;
  layouts: Map<string, AttestationSeed>;
}

const scope = self as unknown as {
  postMessage(m: WorkerResponse): void;
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
};

let env: Env | undefined;

async function init(): Promise<Env> {
  const seeds = await loadSeeds();
  return {
    key: await loadTrustedKey(seeds.keyPath),
    trustedRoot: publicGoodTrustedRoot(),
    layouts: new Map(seeds.attestations.map((s) => [s.version, s])),
  };
}

type Verdict = Omit<Extract<WorkerResponse, { type: "result" }>, "type" | "id" | "ms">;

function runSignature(m: SignatureMutant, e: Env): Verdict {
  const r = verifySignatureListText(m.text, m.digest, { trustedRoot: e.trustedRoot, key: e.key });
  if (r.ok) return { outcome: "accepted", detail: `${r.reports.length} signature(s) verified` };
  const codes = [...new Set(r.reports.flatMap((x) => x.ok ? [] : [x.code]))];
  return { outcome: "rejected", code: codes.join(",") || "EMPTY_LIST", exitCode: 1 };
}

async function writeLayout(m: AttestationMutant, e: Env): Promise<string> {
  const image = e.layouts.get(m.image);
  if (!image) throw new Error(`no seed layout ${m.image}`);
  const dir = await Deno.makeTempDir({ prefix: "dz_mutant_" });
  await Deno.mkdir(`${dir}/blobs/sha256`, { recursive: true });
  const put = (hex: string, bytes: Uint8Array) =>
    Deno.writeFile(`${dir}/blobs/sha256/${hex}`, bytes);
  await Promise.all([...image.blobs].map(([hex, bytes]) => put(hex, bytes)));
  for (const b of m.blobs) await put(b.hex, b.bytes);
  const manifestHex = sha256Hex(m.manifest);
  await put(manifestHex, m.manifest);
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      image.imageEntry,
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        size: m.manifest.length,
        digest: `sha256:${manifestHex}`,
        annotations: { kind: "dev.cosignproject.cosign/atts" },
      },
    ],
  };
  await Deno.writeTextFile(`${dir}/index.json`, JSON.stringify(index));
  await Deno.writeTextFile(`${dir}/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  return dir;
}

async function runAttestation(m: AttestationMutant, e: Env): Promise<Verdict> {
  const dir = await writeLayout(m, e);
  try {
    const source = new LayoutSource(await OciLayout.open(dir), {});
    const r = await verifyProvenance(source, { trustedRoot: e.trustedRoot, expect: m.expect });
    return {
      outcome: "accepted",
      detail: `verified ${r.digest}: ${r.claims.repository} ${r.claims.ref} ${r.claims.commit}`,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function runProbe(m: ProbeMutant): Verdict {
  if (m.behavior === "hang") {
    // deno-lint-ignore no-empty
    for (;;) {}
  }
  if (m.behavior === "crash") throw new TypeError("probe crash");
  if (m.behavior === "reject") throw new DzError("NOT_VERIFIED", "probe rejection");
  return { outcome: "accepted", detail: "probe" };
}

async function run(m: Mutant | ProbeMutant, e: Env): Promise<Verdict> {
  try {
    if (m.target === "probe") return runProbe(m);
    return m.target === "signature" ? runSignature(m, e) : await runAttestation(m, e);
  } catch (err) {
    if (err instanceof DzError) {
      return {
        outcome: "rejected",
        code: err.code,
        exitCode: exitStatusOf(err),
        detail: `${err.name}: ${err.message}`.slice(0, 300),
      };
    }
    const x = err as Error;
    return {
      outcome: "crashed",
      detail: `${x?.name ?? typeof err}: ${x?.message ?? String(err)}\n${
        (x?.stack ?? "").split("\n").slice(1, 8).join("\n")
      }`,
    };
  }
}

scope.onmessage = async (ev) => {
  const msg = ev.data;
  if (msg.type === "init") {
    try {
      env = await init();
      scope.postMessage({ type: "ready" });
    } catch (err) {
      scope.postMessage({ type: "fatal", message: String((err as Error)?.stack ?? err) });
    }
    return;
  }
  const started = performance.now();
  const verdict = await run(msg.mutant, env!);
  scope.postMessage({
    type: "result",
    id: msg.mutant.id,
    ms: Math.round(performance.now() - started),
    ...verdict,
  });
};
