/**
 * Registry fault cases: a real registry (`startRegistry`) behind a fault
 * injecting proxy (HTTP: `tests/helpers/fault_proxy.ts`; transport: the raw
 * TCP proxy of `tcp_fault_proxy.ts`), driven through the real client paths:
 * `RegistryClient.getBlob` into `OciLayout.writeBlob`, `getBlobBytes`,
 * `getManifest`, and `pushImage`. Each case says what must happen —
 * `recover` (retried, then the right bytes) or `refuse` (a typed error) —
 * and every case checks that the layout holds only blobs whose bytes match
 * their names and no temp files ("data lost" counts violations).
 *
 * Shared by `registry_faults_test.ts` and `deno task reliability`.
 *
 * @module
 */

import {
  DigestMismatchError,
  DzError,
  NetworkError,
  RegistryError,
} from "../../lib/errors/errors.ts";
import { buildImage, type BuiltImage } from "../helpers/image_build.ts";
import { OciLayout } from "../../lib/oci/layout.ts";
import { RegistryClient } from "../../lib/registry/client.ts";
import type { TransportOptions } from "../../lib/registry/transport.ts";
import { pushImage } from "../helpers/image_push.ts";
import { type Fault, startFaultProxy } from "../helpers/fault_proxy.ts";
import { startRegistry, type TestRegistry } from "../helpers/registry.ts";
import type { FamilyRow } from "./campaign.ts";
import { sha256Hex } from "./encoding.ts";
import { startTcpFaultProxy } from "./tcp_fault_proxy.ts";

/** The images the cases move around. */
export interface FaultFixture {
  reg: TestRegistry;
  repo: string;
  /** An image with a 1 MiB incompressible layer, pushed as `repo:v1`. */
  image: BuiltImage;
  /** Another image (its blobs are served as "another blob's bytes"). */
  other: BuiltImage;
  /** A ~256 KiB manifest (padded with an annotation), pushed as `repo:big`. */
  bigManifest: { bytes: Uint8Array; digest: string };
  /** A fresh layout for each case. */
  layout(): Promise<OciLayout>;
  close(): Promise<void>;
}

/**
 * What a case requires: `recover` (retried, right result), `refuse` (a
 * typed error), or either of them (a dropped connection may be retried).
 */
export type FaultExpectation = "recover" | "refuse" | "recover-or-refuse";

/** How a case ended. */
export interface FaultOutcome {
  /** `recovered`: right result; `refused`: typed error; `crashed`: untyped error; `hung`: watchdog. */
  outcome: "recovered" | "refused" | "crashed" | "hung" | "wrong-result";
  /** Error class and code when refused or crashed. */
  error?: string;
  /** Wrong bytes stored, temp files left, or a wrong result returned. */
  dataLost: boolean;
  detail: string;
  /** Requests the proxy saw for the faulted path. */
  attempts?: number;
}

/** One fault case. */
export interface FaultCase {
  family: string;
  description: string;
  expect: FaultExpectation;
  /** When refused, the error must be an instance of this (default: any DzError). */
  errorClass?: new (...args: never[]) => DzError;
  run(fx: FaultFixture): Promise<FaultOutcome>;
}

function bigRandom(n: number, seed: number): Uint8Array {
  // Incompressible, deterministic bytes (xorshift32): gzip cannot shrink them.
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Start a registry and push the fixture images. */
export async function startFaultFixture(): Promise<FaultFixture> {
  const reg = await startRegistry();
  const repo = "faults/app";
  const image = await buildImage({ files: { "data.bin": bigRandom(1 << 20, 7) } });
  const other = await buildImage({ files: { "other.bin": bigRandom(1 << 20, 11) } });
  const direct = new RegistryClient(reg.host);
  await pushImage(direct, repo, image, "v1");
  await pushImage(direct, repo, other, "other");
  const padded = JSON.parse(new TextDecoder().decode(image.manifest));
  padded.annotations = { pad: "x".repeat(256 * 1024) };
  const bigBytes = new TextEncoder().encode(JSON.stringify(padded));
  const bigDigest = await direct.putManifest(repo, "big", bigBytes, padded.mediaType);
  direct.close();
  const dirs: string[] = [];
  return {
    reg,
    repo,
    image,
    other,
    bigManifest: { bytes: bigBytes, digest: bigDigest },
    async layout() {
      const dir = await Deno.makeTempDir({ prefix: "dz_faults_" });
      dirs.push(dir);
      return await OciLayout.openOrCreate(dir);
    },
    async close() {
      for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
      await reg.stop();
    },
  };
}

/**
 * Every file under the layout's `blobs/`: each must be named by the sha256
 * of its bytes (no temp or partial files). Returns the problems found.
 */
export async function auditLayout(layout: OciLayout): Promise<string[]> {
  const problems: string[] = [];
  const root = `${layout.dir}/blobs`;
  const walk = async (dir: string): Promise<void> => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const e of entries) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) {
        await walk(path);
        continue;
      }
      if (!/\/blobs\/sha256$/.test(dir) || !/^[0-9a-f]{64}$/.test(e.name)) {
        problems.push(`stray file ${path}`);
        continue;
      }
      const got = sha256Hex(await Deno.readFile(path));
      if (got !== e.name) problems.push(`blob ${e.name} holds bytes hashing to ${got}`);
    }
  };
  await walk(root);
  return problems;
}

function describe(e: unknown): string {
  if (e instanceof DzError) return `${e.name}(${e.code}): ${e.message}`;
  return `${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`;
}

/** Fetch one blob through `client` into a fresh layout and audit it. */
async function pullBlob(
  fx: FaultFixture,
  client: RegistryClient,
  attempts: () => number,
  how: "stream" | "bytes" = "stream",
): Promise<FaultOutcome> {
  const layout = await fx.layout();
  const d = fx.image.layers[0].descriptor;
  let outcome: FaultOutcome;
  try {
    if (how === "stream") {
      await layout.writeBlob(d, await client.getBlob(fx.repo, d));
    } else {
      const bytes = await client.getBlobBytes(fx.repo, d, 4 << 20);
      if (sha256Hex(bytes) !== d.digest.slice(7)) {
        outcome = {
          outcome: "wrong-result",
          dataLost: true,
          detail: "getBlobBytes returned wrong bytes",
        };
        return outcome;
      }
      await layout.writeBlobBytes(bytes);
    }
    const stored = await layout.hasBlob(d.digest);
    outcome = stored
      ? { outcome: "recovered", dataLost: false, detail: "blob stored" }
      : { outcome: "wrong-result", dataLost: true, detail: "writeBlob returned but no blob" };
  } catch (e) {
    const typed = e instanceof DzError;
    outcome = {
      outcome: typed ? "refused" : "crashed",
      error: describe(e),
      dataLost: false,
      detail: describe(e),
    };
    if (await layout.hasBlob(d.digest)) {
      outcome.dataLost = true;
      outcome.detail += "; yet the blob was stored";
    }
  } finally {
    client.close();
  }
  const problems = await auditLayout(layout);
  if (problems.length) {
    outcome.dataLost = true;
    outcome.detail += `; layout: ${problems.join(", ")}`;
  }
  outcome.attempts = attempts();
  return outcome;
}

async function withProxy(
  fx: FaultFixture,
  fault: (req: Request, n: number) => Fault | Promise<Fault>,
  body: (host: string, attempts: () => number) => Promise<FaultOutcome>,
  match = "/blobs/",
  beforeStop?: () => void,
): Promise<FaultOutcome> {
  const proxy = startFaultProxy(fx.reg.url, fault);
  try {
    return await body(proxy.host, () => proxy.seen.filter((s) => s.includes(match)).length);
  } finally {
    beforeStop?.(); // let stalled responses end, or the proxy's shutdown would wait for them
    await proxy.stop();
  }
}

const isBlob = (req: Request) => new URL(req.url).pathname.includes("/blobs/sha256:");
const isLayer = (fx: FaultFixture, req: Request) =>
  new URL(req.url).pathname.endsWith(fx.image.layers[0].descriptor.digest);
const quick: TransportOptions = { retryBaseMs: 5, retries: 3 };

/** Release hooks for responses that stall on purpose (so the proxy can stop). */
function stallKit() {
  const releases: (() => void)[] = [];
  return {
    /** A body that sends `first` and then nothing until released. */
    stalledBody(first: Uint8Array): ReadableStream<Uint8Array> {
      return new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(first);
          releases.push(() => {
            try {
              c.close();
            } catch {
              // cancelled already
            }
          });
        },
      });
    },
    /** A promise that resolves only when released. */
    never(): Promise<Response> {
      return new Promise((resolve) =>
        releases.push(() => resolve(new Response("released", { status: 503 })))
      );
    },
    release() {
      for (const r of releases.splice(0)) r();
    },
  };
}

/** The fault cases. */
export const FAULT_CASES: FaultCase[] = [
  {
    family: "fault.http-5xx-retry",
    description: "blob GET answers 500, then 503, then the blob",
    expect: "recover",
    run: (fx) =>
      withProxy(fx, (req, n) => {
        if (isLayer(fx, req) && n === 1) return new Response("boom", { status: 500 });
        if (isLayer(fx, req) && n === 2) return new Response("busy", { status: 503 });
        return undefined;
      }, (host, attempts) => pullBlob(fx, new RegistryClient(host, quick), attempts)),
  },
  {
    family: "fault.http-429-retry-after",
    description: "blob GET answers 429 with Retry-After: 1, then the blob",
    expect: "recover",
    run: (fx) =>
      withProxy(fx, (req, n) => {
        if (isLayer(fx, req) && n === 1) {
          return new Response("slow down", { status: 429, headers: { "retry-after": "1" } });
        }
        return undefined;
      }, (host, attempts) => pullBlob(fx, new RegistryClient(host, quick), attempts)),
  },
  {
    family: "fault.http-503-manifest",
    description: "manifest GET answers 503 twice, then the manifest",
    expect: "recover",
    run: (fx) =>
      withProxy(
        fx,
        (req, n) =>
          new URL(req.url).pathname.includes("/manifests/") && n <= 2
            ? new Response("busy", { status: 503 })
            : undefined,
        async (host, attempts) => {
          const client = new RegistryClient(host, quick);
          try {
            const m = await client.getManifest(fx.repo, "v1");
            const ok = m.digest === fx.image.manifestDescriptor.digest;
            return {
              outcome: ok ? "recovered" : "wrong-result",
              dataLost: !ok,
              detail: `manifest ${m.digest}`,
              attempts: attempts(),
            };
          } finally {
            client.close();
          }
        },
        "/manifests/",
      ),
  },
  {
    family: "fault.http-500-persistent",
    description: "blob GET always answers 500 (retry budget exhausted)",
    expect: "refuse",
    errorClass: RegistryError,
    run: (fx) =>
      withProxy(
        fx,
        (req) => isLayer(fx, req) ? new Response("down", { status: 500 }) : undefined,
        (host, attempts) =>
          pullBlob(fx, new RegistryClient(host, { retryBaseMs: 1, retries: 2 }), attempts),
      ),
  },
  {
    family: "fault.truncated-body",
    description: "blob GET serves the first half of the blob (its own Content-Length)",
    expect: "refuse",
    errorClass: DigestMismatchError,
    run: (fx) =>
      withProxy(fx, (req) => {
        if (!isLayer(fx, req)) return undefined;
        const b = fx.image.layers[0].bytes;
        return new Response(b.slice(0, b.length >> 1) as BodyInit);
      }, (host, attempts) => pullBlob(fx, new RegistryClient(host, quick), attempts)),
  },
  {
    family: "fault.truncated-chunked",
    description: "blob GET streams the first half of the blob, chunked, then ends",
    expect: "refuse",
    errorClass: DigestMismatchError,
    run: (fx) =>
      withProxy(fx, (req) => {
        if (!isLayer(fx, req)) return undefined;
        const b = fx.image.layers[0].bytes;
        return new Response(new Blob([b.slice(0, b.length >> 1) as BlobPart]).stream());
      }, (host, attempts) => pullBlob(fx, new RegistryClient(host, quick), attempts)),
  },
  {
    family: "fault.corrupt-byte",
    description: "blob GET flips one byte in the middle of the blob",
    expect: "refuse",
    errorClass: DigestMismatchError,
    run: (fx) =>
      withProxy(
        fx,
        (req) => isLayer(fx, req) ? "corrupt" : undefined,
        (host, attempts) => pullBlob(fx, new RegistryClient(host, quick), attempts),
      ),
  },
  {
    family: "fault.other-blob",
    description: "blob GET serves another image's layer (different size and digest)",
    expect: "refuse",
    errorClass: DigestMismatchError,
    run: (fx) =>
      withProxy(
        fx,
        (req) => isLayer(fx, req) ? new Response(fx.other.layers[0].bytes as BodyInit) : undefined,
        (host, attempts) => pullBlob(fx, new RegistryClient(host, quick), attempts),
      ),
  },
  {
    family: "fault.other-bytes-same-size",
    description: "blob GET serves other bytes of exactly the right size",
    expect: "refuse",
    errorClass: DigestMismatchError,
    run: (fx) =>
      withProxy(fx, (req) => {
        if (!isLayer(fx, req)) return undefined;
        const want = fx.image.layers[0].bytes.length;
        const o = fx.other.layers[0].bytes;
        const same = new Uint8Array(want);
        same.set(o.subarray(0, Math.min(want, o.length)));
        return new Response(same as BodyInit);
      }, (host, attempts) => pullBlob(fx, new RegistryClient(host, quick), attempts)),
  },
  {
    family: "fault.stall-mid-blob",
    description: "blob GET sends 64 KiB, then nothing (client idle timeout 300 ms)",
    expect: "refuse",
    errorClass: NetworkError,
    async run(fx) {
      const kit = stallKit();
      try {
        return await withProxy(
          fx,
          (req) => {
            if (!isLayer(fx, req)) return undefined;
            const b = fx.image.layers[0].bytes;
            return new Response(kit.stalledBody(b.slice(0, 65536)), {
              headers: { "content-length": String(b.length) },
            });
          },
          (host, attempts) =>
            pullBlob(fx, new RegistryClient(host, { ...quick, idleTimeoutMs: 300 }), attempts),
          "/blobs/",
          kit.release,
        );
      } finally {
        kit.release();
      }
    },
  },
  {
    family: "fault.stall-before-headers",
    description: "blob GET never answers (header timeout 300 ms, 1 retry)",
    expect: "refuse",
    errorClass: NetworkError,
    async run(fx) {
      const kit = stallKit();
      try {
        return await withProxy(
          fx,
          (req) => isBlob(req) ? kit.never() : undefined,
          (host, attempts) =>
            pullBlob(
              fx,
              new RegistryClient(host, { retryBaseMs: 5, retries: 1, timeoutMs: 300 }),
              attempts,
            ),
          "/blobs/",
          kit.release,
        );
      } finally {
        kit.release();
      }
    },
  },
  {
    family: "fault.drop-mid-blob",
    description: "TCP connection closed after 100 KB of the blob response (getBlob → writeBlob)",
    expect: "recover-or-refuse",
    errorClass: NetworkError,
    async run(fx) {
      await using p = startTcpFaultProxy({
        upstream: fx.reg.host,
        match: fx.image.layers[0].descriptor.digest,
        cutAfterBytes: 100_000,
        times: 1,
      });
      return await pullBlob(fx, new RegistryClient(p.host, quick), () => p.cuts);
    },
  },
  {
    family: "fault.drop-mid-blob-bytes",
    description: "TCP connection closed after 100 KB of the blob response (getBlobBytes)",
    expect: "recover-or-refuse",
    errorClass: NetworkError,
    async run(fx) {
      await using p = startTcpFaultProxy({
        upstream: fx.reg.host,
        match: fx.image.layers[0].descriptor.digest,
        cutAfterBytes: 100_000,
        times: 1,
      });
      return await pullBlob(fx, new RegistryClient(p.host, quick), () => p.cuts, "bytes");
    },
  },
  {
    family: "fault.drop-mid-manifest",
    description: "TCP connection closed after 100 KB of a 256 KiB manifest response",
    expect: "recover-or-refuse",
    errorClass: NetworkError,
    async run(fx) {
      await using p = startTcpFaultProxy({
        upstream: fx.reg.host,
        match: "/manifests/big",
        cutAfterBytes: 100_000,
        times: 1,
      });
      const client = new RegistryClient(p.host, quick);
      try {
        const m = await client.getManifest(fx.repo, "big");
        const ok = m.digest === fx.bigManifest.digest;
        return {
          outcome: ok ? "recovered" : "wrong-result",
          dataLost: !ok,
          detail: `manifest ${m.digest} (connection cut ${p.cuts}x, then retried)`,
          attempts: p.cuts,
        };
      } catch (e) {
        return {
          outcome: e instanceof DzError ? "refused" : "crashed",
          error: describe(e),
          dataLost: false,
          detail: describe(e),
          attempts: p.cuts,
        };
      } finally {
        client.close();
      }
    },
  },
  {
    family: "fault.drop-before-headers",
    description: "TCP connection closed after 20 bytes of the blob response (retried)",
    expect: "recover",
    async run(fx) {
      await using p = startTcpFaultProxy({
        upstream: fx.reg.host,
        match: fx.image.layers[0].descriptor.digest,
        cutAfterBytes: 20,
        times: 1,
      });
      return await pullBlob(fx, new RegistryClient(p.host, quick), () => p.cuts);
    },
  },
  {
    family: "fault.manifest-corrupt",
    description: "manifest GET by tag with one byte flipped (Docker-Content-Digest kept)",
    expect: "refuse",
    errorClass: DigestMismatchError,
    run: (fx) =>
      withProxy(
        fx,
        (req) => new URL(req.url).pathname.includes("/manifests/") ? "corrupt" : undefined,
        async (host, attempts) => {
          const client = new RegistryClient(host, quick);
          try {
            const m = await client.getManifest(fx.repo, "v1");
            return {
              outcome: "wrong-result",
              dataLost: true,
              detail: `accepted manifest ${m.digest}`,
              attempts: attempts(),
            };
          } catch (e) {
            return {
              outcome: e instanceof DzError ? "refused" : "crashed",
              error: describe(e),
              dataLost: false,
              detail: describe(e),
              attempts: attempts(),
            };
          } finally {
            client.close();
          }
        },
        "/manifests/",
      ),
  },
  ...(["blob upload POST", "manifest PUT"] as const).map((what): FaultCase => ({
    family: what === "manifest PUT" ? "fault.push-manifest-500" : "fault.push-upload-503",
    description: `pushImage: ${what} answers ${what === "manifest PUT" ? 500 : 503} once`,
    expect: "recover",
    run: (fx) =>
      withProxy(
        fx,
        (req, n) => {
          const p = new URL(req.url).pathname;
          const hit = what === "manifest PUT"
            ? req.method === "PUT" && p.includes("/manifests/")
            : req.method === "POST" && p.endsWith("/blobs/uploads/");
          return hit && n === 1
            ? new Response("busy", { status: what === "manifest PUT" ? 500 : 503 })
            : undefined;
        },
        (host, attempts) => pushAndCheck(fx, host, attempts),
        what === "manifest PUT" ? "PUT" : "POST",
      ),
  })),
  {
    family: "fault.push-wrong-digest",
    description: "pushImage: manifest PUT answered with another Docker-Content-Digest",
    expect: "refuse",
    errorClass: DigestMismatchError,
    run: (fx) =>
      withProxy(
        fx,
        async (req) => {
          if (req.method !== "PUT" || !new URL(req.url).pathname.includes("/manifests/")) {
            return undefined;
          }
          const url = new URL(new URL(req.url).pathname, fx.reg.url);
          const res = await fetch(url, { method: "PUT", headers: req.headers, body: req.body });
          await res.body?.cancel();
          const headers = new Headers(res.headers);
          headers.set("docker-content-digest", fx.other.manifestDescriptor.digest);
          return new Response(null, { status: res.status, headers });
        },
        (host, attempts) => pushAndCheck(fx, host, attempts),
        "PUT",
      ),
  },
];

/** Push a fresh image through `host`, then check what the registry holds directly. */
async function pushAndCheck(
  fx: FaultFixture,
  host: string,
  attempts: () => number,
): Promise<FaultOutcome> {
  const img = await buildImage({ files: { "pushed.txt": `push ${crypto.randomUUID()}` } });
  const client = new RegistryClient(host, quick);
  const direct = new RegistryClient(fx.reg.host);
  try {
    const digest = await pushImage(client, "faults/push", img, "v1");
    const m = await direct.getManifest("faults/push", digest);
    const ok = digest === img.manifestDescriptor.digest && m.digest === digest;
    return {
      outcome: ok ? "recovered" : "wrong-result",
      dataLost: !ok,
      detail: `pushed ${digest}`,
      attempts: attempts(),
    };
  } catch (e) {
    return {
      outcome: e instanceof DzError ? "refused" : "crashed",
      error: describe(e),
      dataLost: false,
      detail: describe(e),
      attempts: attempts(),
    };
  } finally {
    client.close();
    direct.close();
  }
}

/** Per-case watchdog budget. */
export const FAULT_BUDGET_MS = 60_000;

/** Run one case under the watchdog. */
export async function runFaultCase(c: FaultCase, fx: FaultFixture): Promise<FaultOutcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<FaultOutcome>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          outcome: "hung",
          dataLost: false,
          detail: `no end within ${FAULT_BUDGET_MS} ms`,
        }),
      FAULT_BUDGET_MS,
    );
  });
  try {
    return await Promise.race([
      c.run(fx).catch((e): FaultOutcome => ({
        outcome: e instanceof DzError ? "refused" : "crashed",
        error: describe(e),
        dataLost: false,
        detail: `case failed outside the client path: ${describe(e)}`,
      })),
      hung,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Is this outcome what the case requires? */
export function judge(c: FaultCase, o: FaultOutcome): string | undefined {
  if (o.dataLost) return `data lost: ${o.detail}`;
  if (o.outcome === "crashed" || o.outcome === "hung" || o.outcome === "wrong-result") {
    return `${o.outcome}: ${o.detail}`;
  }
  if (c.expect === "recover" && o.outcome !== "recovered") {
    return `expected recovery, got ${o.outcome}: ${o.detail}`;
  }
  if (c.expect === "refuse" && o.outcome !== "refused") {
    return `expected a refusal, got ${o.outcome}: ${o.detail}`;
  }
  if (o.outcome === "refused" && c.errorClass && o.error) {
    const name = c.errorClass.name;
    if (!o.error.startsWith(`${name}(`) && !o.error.includes(name)) {
      return `expected ${name}, got ${o.error}`;
    }
  }
  return undefined;
}

/** Run every case against one fixture; rows for the report plus the problems. */
export async function runFaultCases(): Promise<{ rows: FamilyRow[]; problems: string[] }> {
  const fx = await startFaultFixture();
  const rows: FamilyRow[] = [];
  const problems: string[] = [];
  try {
    for (const c of FAULT_CASES) {
      const o = await runFaultCase(c, fx);
      const problem = judge(c, o);
      if (problem) problems.push(`${c.family} (${c.description}): ${problem}`);
      rows.push({
        family: c.family,
        tried: 1,
        rejected: o.outcome === "refused" ? 1 : 0,
        accepted: o.outcome === "wrong-result" ? 1 : 0,
        recovered: o.outcome === "recovered" ? 1 : 0,
        crashed: o.outcome === "crashed" ? 1 : 0,
        hung: o.outcome === "hung" ? 1 : 0,
        noop: 0,
        noopAccepted: 0,
        dataLost: o.dataLost ? 1 : 0,
      });
    }
  } finally {
    await fx.close();
  }
  return { rows, problems };
}
