/**
 * A Rekor v1 witness for `@sigstore/sign`'s bundle builders: the entry the
 * library proposes (`toProposedEntry`: a `hashedrekord` for a message
 * signature, what `cosign sign` / `sign-blob` log, or a `dsse` entry for an
 * envelope, what cosign v3 bundles log) is POSTed to the log, and the answer
 * becomes the bundle's `TransparencyLogEntry`. An entry already logged
 * (HTTP 409) is fetched from the same log, by the UUID its `Location`
 * ends in. Nothing here trusts the log: callers verify the built bundle
 * against their trusted root before anything is published.
 *
 * Why not the library's `RekorWitness`: its HTTP client is
 * `make-fetch-happen`, which works under Deno but pulls ~30 packages into
 * the program, reads the whole environment when it loads, and its proxy
 * agent holds an `import("kerberos")` that the one-file bundle
 * (`scripts/bundle.ts`) cannot carry. So this module keeps the transport
 * (Deno's `fetch`, a timeout, no retries) and the answer's conversion.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { TransparencyLogEntry } from "../npm/sigstore_bundle.ts";
import {
  type SignatureBundle,
  toProposedEntry,
  type VerificationMaterial,
  type Witness,
} from "../npm/sigstore_sign.ts";
import { NetworkError, RegistryError, VerificationError } from "../errors/errors.ts";
import { isRecord } from "../json/record.ts";
import { isPermissionError } from "../fs/read_file.ts";
import { proxyClient } from "../registry/proxy.ts";

/** The public-good Rekor. */
export const DEFAULT_REKOR_URL = "https://rekor.sigstore.dev";

/** How long one request to Rekor may take. */
export const REKOR_TIMEOUT_MS = 60_000;

/** A logged Rekor v1 entry, as cosign's `Bundle` annotation and `--json` name it. */
export interface RekorEntry {
  /** Rekor's entry UUID: hex RFC 6962 leaf hash of the body. */
  uuid: string;
  /** base64 of the canonicalized entry body. */
  body: string;
  integratedTime: number;
  logIndex: number;
  /** Log ID, hex. */
  logID: string;
  /** base64 of the signed entry timestamp. */
  signedEntryTimestamp: string;
}

function malformed(where: string, what: string): never {
  throw new VerificationError("REKOR_RESPONSE", `${where}: ${what}`);
}

const hex = (s: string) => Buffer.from(s, "hex");

/** The bundle entry of one Rekor v1 answer (`{uuid: entry}`), checked for shape only. */
function toTlogEntry(json: unknown, where: string): TransparencyLogEntry {
  if (!isRecord(json)) malformed(where, "response is not an object");
  const values = Object.values(json);
  const e = values[0];
  if (values.length !== 1 || !isRecord(e)) {
    malformed(where, "not exactly one log entry in the response");
  }
  const v = isRecord(e.verification) ? e.verification : {};
  if (
    typeof e.body !== "string" || !Number.isSafeInteger(e.integratedTime) ||
    !Number.isSafeInteger(e.logIndex) || typeof e.logID !== "string" ||
    typeof v.signedEntryTimestamp !== "string"
  ) {
    malformed(where, "malformed log entry");
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(e.body, "base64").toString("utf8"));
  } catch {
    malformed(where, "the entry body is not JSON");
  }
  if (!isRecord(body) || typeof body.kind !== "string" || typeof body.apiVersion !== "string") {
    malformed(where, "the entry body names no kind / apiVersion");
  }
  const p = v.inclusionProof;
  if (
    p !== undefined && (!isRecord(p) ||
      !Number.isSafeInteger(p.logIndex) || typeof p.rootHash !== "string" ||
      !Number.isSafeInteger(p.treeSize) || !Array.isArray(p.hashes) ||
      !p.hashes.every((h) => typeof h === "string") || typeof p.checkpoint !== "string")
  ) {
    malformed(where, "malformed inclusion proof");
  }
  return {
    logIndex: String(e.logIndex),
    logId: { keyId: hex(e.logID) },
    kindVersion: { kind: body.kind, version: body.apiVersion },
    integratedTime: String(e.integratedTime),
    inclusionPromise: { signedEntryTimestamp: Buffer.from(v.signedEntryTimestamp, "base64") },
    inclusionProof: isRecord(p)
      ? {
        logIndex: String(p.logIndex),
        rootHash: hex(p.rootHash as string),
        treeSize: String(p.treeSize),
        hashes: (p.hashes as string[]).map(hex),
        checkpoint: { envelope: p.checkpoint as string },
      }
      : undefined,
    canonicalizedBody: Buffer.from(e.body, "base64"),
  };
}

async function request(
  base: string,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  client?: Deno.HttpClient,
): Promise<Response> {
  try {
    return await fetch(url, {
      ...init,
      signal: AbortSignal.timeout(timeoutMs),
      ...(client ? { client } : {}),
    });
  } catch (e) {
    if (isPermissionError(e)) throw e;
    throw new NetworkError(`cannot reach Rekor at ${base}: ${(e as Error).message}`, {
      cause: e,
      hint: "check --rekor-url and the network",
    });
  }
}

async function answer(res: Response, where: string): Promise<TransparencyLogEntry> {
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    malformed(where, "the answer is not JSON");
  }
  return toTlogEntry(json, where);
}

/**
 * Ask the Rekor v1 log at `rekorUrl` to record `proposal`; an entry already
 * logged (409) is fetched from the same log instead.
 * @throws NetworkError, RegistryError (refused), VerificationError `REKOR_RESPONSE`
 */
async function logEntry(
  rekorUrl: string,
  proposal: unknown,
  timeoutMs: number,
  client?: Deno.HttpClient,
): Promise<TransparencyLogEntry> {
  const base = rekorUrl.replace(/\/+$/, "");
  const where = `Rekor at ${base}`;
  const entries = `${base}/api/v1/log/entries`;
  const res = await request(
    base,
    entries,
    {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(proposal),
    },
    timeoutMs,
    client,
  );
  if (res.status === 409) {
    const uuid = res.headers.get("location")?.split("/").pop();
    await res.body?.cancel();
    if (!uuid || !/^[0-9a-f]{64,80}$/.test(uuid)) {
      throw new RegistryError(409, `${where}: entry exists but no entry UUID given`);
    }
    const again = await request(
      base,
      `${entries}/${uuid}`,
      {
        headers: { accept: "application/json" },
      },
      timeoutMs,
      client,
    );
    if (!again.ok) {
      await again.body?.cancel();
      throw new RegistryError(again.status, `${where}: HTTP ${again.status}`);
    }
    return await answer(again, where);
  }
  if (res.status !== 201 && res.status !== 200) {
    const raw = await res.text();
    let said: unknown;
    try {
      said = JSON.parse(raw)?.message; // Rekor's error document: {code, message}
    } catch {
      // not JSON: show the text
    }
    const text = (typeof said === "string" ? said : raw).slice(0, 300).replace(/\s+/g, " ");
    throw new RegistryError(res.status, `${where} refused the entry: HTTP ${res.status} ${text}`);
  }
  return await answer(res, where);
}

/**
 * A witness that logs in the Rekor v1 log at `rekorUrl` (no retries,
 * `timeoutMs` per request), through `proxy` when one is given (the run's
 * `--proxy`, Tor on Tails: the signer's address is not shown to the log).
 */
export function rekorWitness(
  rekorUrl: string,
  timeoutMs = REKOR_TIMEOUT_MS,
  proxy?: string,
): Witness {
  return {
    async testify(content: SignatureBundle, publicKey: string): Promise<VerificationMaterial> {
      const proposal = toProposedEntry(content, publicKey, "dsse");
      const client = proxy ? proxyClient(proxy) : undefined;
      try {
        return { tlogEntries: [await logEntry(rekorUrl, proposal, timeoutMs, client)] };
      } finally {
        client?.close();
      }
    },
  };
}

/**
 * The entry a built bundle carries, with the fields cosign's `Bundle`
 * annotation needs (SET, body, integrated time, log index, log ID).
 * @throws VerificationError `REKOR_RESPONSE` when there is none
 */
export function rekorEntryOf(
  entry: TransparencyLogEntry | undefined,
  rekorUrl: string,
): RekorEntry {
  const set = entry?.inclusionPromise?.signedEntryTimestamp;
  if (!entry || !set || !entry.logId) {
    malformed(`Rekor at ${rekorUrl.replace(/\/+$/, "")}`, "no signed log entry in the answer");
  }
  const body = Buffer.from(entry.canonicalizedBody);
  return {
    uuid: createHash("sha256").update(Buffer.from([0])).update(body).digest("hex"),
    body: body.toString("base64"),
    integratedTime: Number(entry.integratedTime),
    logIndex: Number(entry.logIndex),
    logID: Buffer.from(entry.logId.keyId).toString("hex"),
    signedEntryTimestamp: Buffer.from(set).toString("base64"),
  };
}
