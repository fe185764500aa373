/**
 * A loopback Rekor + Fulcio + TSA stand-in on one `Deno.serve` port.
 *
 * Fulcio (with an embedded-SCT CT log) and the TSA are `@sigstore/mock`'s
 * handlers adapted to `Deno.serve`; Rekor is {@linkcode TransparencyLog}
 * (sequential indexes, kept entries, real SETs and inclusion proofs,
 * signature checks) behind {@linkcode handleRekor}.
 *
 * Not for production: the Fulcio mock trusts any OIDC token without checking
 * its signature, and does not check proof of possession.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { join } from "node:path";
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTSA,
  tsaHandler,
} from "@sigstore/mock";
import { pem } from "@sigstore/core";
import { writeFileAtomic } from "../../lib/fs/atomic.ts";
import { handleRekor } from "./rekor_routes.ts";
import { TransparencyLog } from "./transparency_log.ts";
import { buildTrustedRoot, type TrustedRootJson } from "./trusted_root.ts";

/** Options of {@linkcode startLocalSigstore}. */
export interface LocalSigstoreOptions {
  /** TCP port on 127.0.0.1 (default 0: any free port). */
  port?: number;
  /** Clock for Rekor integrated times and checkpoints (default `new Date()`). */
  clock?: () => Date;
}

/** A running stand-in. */
export interface LocalSigstore {
  /** Base URL of the single listener, `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  rekorUrl: string;
  fulcioUrl: string;
  tsaUrl: string;
  /** Trusted root (JSON form) for these services. */
  trustedRoot: TrustedRootJson;
  /** The Rekor log itself (for inspection in tests). */
  log: TransparencyLog;
  /** Write the trusted root to `path` atomically. */
  writeTrustedRoot(path: string): Promise<void>;
  /**
   * Write `DIR/trusted_root.json`, then `DIR/env` (`REKOR_URL`, `FULCIO_URL`,
   * `TSA_URL` (base URL, like the others), `TSA_TIMESTAMP_URL` (the full
   * endpoint cosign's `--timestamp-server-url` wants), `TRUSTED_ROOT`), each
   * atomically, env last.
   */
  writeOutDir(dir: string): Promise<void>;
  /** Stop serving (idempotent). */
  close(): Promise<void>;
  /** Resolves once the server has stopped. */
  finished: Promise<void>;
}

type MockHandler = {
  path: string;
  fn: (
    body: string,
  ) => Promise<
    { statusCode: number; response: string | ArrayBufferView<ArrayBuffer>; contentType?: string }
  >;
};

/** Adapt an `@sigstore/mock` handler (`POST path`, body → result) to a Request. */
async function runMockHandler(handler: MockHandler, req: Request): Promise<Response> {
  const { statusCode, response, contentType } = await handler.fn(await req.text());
  const body = typeof response === "string" ? response : new Uint8Array(
    response.buffer,
    response.byteOffset,
    response.byteLength,
  );
  return new Response(body, {
    status: statusCode,
    headers: { "content-type": contentType ?? "text/plain" },
  });
}

function ecKeyPair() {
  return crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
}

const der = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** Start the stand-in on 127.0.0.1. */
export async function startLocalSigstore(
  options: LocalSigstoreOptions = {},
): Promise<LocalSigstore> {
  const clock = options.clock ?? (() => new Date());
  const startedAt = clock();

  const ctKeys = ecKeyPair();
  const ctLog = await initializeCTLog(ctKeys);
  const ca = await initializeCA(ecKeyPair(), ctLog);
  const tsa = await initializeTSA(ecKeyPair());
  // The mock stamps genTime with milliseconds, which asn1js writes with the
  // trailing zeros stripped (".5Z"): @sigstore/core refuses that about one
  // time in ten. Whole seconds (accuracy is 1 s anyway) parse everywhere.
  const tsaClock = tsa as unknown as { getCurrentTime?: () => Date };
  if (typeof tsaClock.getCurrentTime !== "function") {
    throw new Error("@sigstore/mock TSA changed: no getCurrentTime to override");
  }
  tsaClock.getCurrentTime = () => new Date(Math.floor(clock().getTime() / 1000) * 1000);
  const fulcio = fulcioHandler(ca) as MockHandler;
  const timestamp = tsaHandler(tsa) as MockHandler;
  const rootPem = pem.fromDER(Buffer.from(der(ca.rootCertificate)));
  const tsaChainPem = [tsa.intCertificate, tsa.rootCertificate]
    .map((c) => pem.fromDER(Buffer.from(der(c))))
    .join("");

  // Rekor's origin names the port, so the log is created once listening.
  const state: { log?: TransparencyLog } = {};
  const handler = async (req: Request): Promise<Response> => {
    try {
      const path = new URL(req.url).pathname;
      if (state.log) {
        const rekor = await handleRekor(state.log, req);
        if (rekor) return rekor;
      }
      if (req.method === "POST" && path === fulcio.path) return await runMockHandler(fulcio, req);
      if (req.method === "GET" && path === "/api/v2/trustBundle") {
        return Response.json({ chains: [{ certificates: [rootPem] }] });
      }
      if (req.method === "POST" && path === timestamp.path) {
        return await runMockHandler(timestamp, req);
      }
      if (req.method === "GET" && path === `${timestamp.path}/certchain`) {
        return new Response(tsaChainPem, {
          headers: { "content-type": "application/pem-certificate-chain" },
        });
      }
      return Response.json({ code: 404, message: "not found" }, { status: 404 });
    } catch (e) {
      return Response.json({ code: 500, message: String(e) }, { status: 500 });
    }
  };

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
  }, handler);
  const port = server.addr.port;
  const url = `http://127.0.0.1:${port}`;
  const log = state.log = new TransparencyLog({
    keyPair: ecKeyPair(),
    origin: `127.0.0.1:${port}`,
    clock,
  });

  const validFrom = new Date(Math.floor(startedAt.getTime() / 1000) * 1000);
  const trustedRoot = buildTrustedRoot({
    rekorUrl: url,
    rekorPublicKey: log.publicKeyDer,
    fulcioUrl: url,
    fulcioChain: [der(ca.rootCertificate)],
    ctlogUrl: `${url}/ct`,
    ctlogPublicKey: new Uint8Array(ctLog.publicKey),
    tsaUrl: url,
    tsaChain: [der(tsa.intCertificate), der(tsa.rootCertificate)],
    validFrom,
  });
  const rootText = JSON.stringify(trustedRoot, null, 2) + "\n";

  let closing: Promise<void> | undefined;
  const writeTrustedRoot = (path: string) => writeFileAtomic(path, rootText);
  return {
    url,
    port,
    rekorUrl: url,
    fulcioUrl: url,
    tsaUrl: url,
    trustedRoot,
    log,
    writeTrustedRoot,
    async writeOutDir(dir: string) {
      const rootPath = join(dir, "trusted_root.json");
      await writeTrustedRoot(rootPath);
      const env = [
        `REKOR_URL=${url}`,
        `FULCIO_URL=${url}`,
        `TSA_URL=${url}`,
        `TSA_TIMESTAMP_URL=${url}/api/v1/timestamp`,
        `TRUSTED_ROOT=${rootPath}`,
        "",
      ].join("\n");
      await writeFileAtomic(join(dir, "env"), env);
    },
    close() {
      closing ??= server.shutdown();
      return closing;
    },
    finished: server.finished,
  };
}
