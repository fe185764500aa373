/**
 * Rekor v1 REST API over a {@linkcode TransparencyLog}, as `Deno.serve`
 * request handling:
 *
 * - `POST /api/v1/log/entries`: 201 `{uuid: entry}` (Location header), 400 for
 *   an invalid entry or bad signature, 409 for an entry already logged.
 * - `GET /api/v1/log/entries/{uuid|entryID}`, `GET /api/v1/log/entries?logIndex=N`.
 * - `POST /api/v1/log/entries/retrieve` (`entryUUIDs`, `logIndexes`).
 * - `POST /api/v1/index/retrieve` (`hash`: `sha256:<hex>`).
 * - `GET /api/v1/log` (tree head), `GET /api/v1/log/publicKey` (PEM).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { canonicalizeProposedEntry, EntryRejectedError } from "./entry_types.ts";
import type { StoredEntry, TransparencyLog } from "./transparency_log.ts";

const ENTRIES = "/api/v1/log/entries";

function jsonResponse(status: number, body: unknown, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function error(status: number, message: string, headers: HeadersInit = {}): Response {
  return jsonResponse(status, { code: status, message }, headers);
}

function entryResponse(log: TransparencyLog, entry: StoredEntry) {
  return { [entry.entryId]: log.toRekorEntry(entry) };
}

async function readJson(req: Request): Promise<unknown> {
  try {
    return JSON.parse(await req.text());
  } catch {
    throw new EntryRejectedError("request body is not JSON");
  }
}

async function createEntry(log: TransparencyLog, req: Request): Promise<Response> {
  try {
    const canonical = canonicalizeProposedEntry(await readJson(req));
    const { entry, duplicate } = log.append(canonical);
    const location = `${ENTRIES}/${entry.entryId}`;
    if (duplicate) {
      return error(
        409,
        `an equivalent entry already exists in the transparency log with UUID ${entry.entryId}`,
        { location },
      );
    }
    return jsonResponse(201, entryResponse(log, entry), { location, etag: entry.entryId });
  } catch (e) {
    if (e instanceof EntryRejectedError) return error(400, e.message);
    throw e;
  }
}

function getByIndex(log: TransparencyLog, raw: string): Response {
  if (!/^\d+$/.test(raw)) return error(400, "logIndex must be a non-negative integer");
  const entry = log.byIndex(Number(raw));
  return entry ? jsonResponse(200, entryResponse(log, entry)) : error(404, "entry not found");
}

async function retrieveEntries(log: TransparencyLog, req: Request): Promise<Response> {
  let body: Record<string, unknown>;
  try {
    body = (await readJson(req)) as Record<string, unknown>;
  } catch (e) {
    return error(400, (e as Error).message);
  }
  const out = [];
  for (const id of Array.isArray(body?.entryUUIDs) ? body.entryUUIDs : []) {
    const entry = typeof id === "string" ? log.byUuid(id) : undefined;
    if (entry) out.push(entryResponse(log, entry));
  }
  for (const index of Array.isArray(body?.logIndexes) ? body.logIndexes : []) {
    const entry = typeof index === "number" ? log.byIndex(index) : undefined;
    if (entry) out.push(entryResponse(log, entry));
  }
  return jsonResponse(200, out);
}

async function searchIndex(log: TransparencyLog, req: Request): Promise<Response> {
  let body: Record<string, unknown>;
  try {
    body = (await readJson(req)) as Record<string, unknown>;
  } catch (e) {
    return error(400, (e as Error).message);
  }
  if (typeof body?.hash !== "string") return error(400, "hash is required");
  return jsonResponse(200, log.byHash(body.hash).map((e) => e.entryId));
}

/**
 * Handle a Rekor v1 API request, or return undefined when the path is not
 * Rekor's.
 */
export async function handleRekor(
  log: TransparencyLog,
  req: Request,
): Promise<Response | undefined> {
  const url = new URL(req.url);
  const path = url.pathname.replace(/\/+$/, "");
  if (path === ENTRIES) {
    if (req.method === "POST") return await createEntry(log, req);
    if (req.method === "GET") {
      const index = url.searchParams.get("logIndex");
      if (index !== null) return getByIndex(log, index);
      return error(400, "logIndex query parameter is required");
    }
    return error(405, "method not allowed");
  }
  if (path === `${ENTRIES}/retrieve` && req.method === "POST") {
    return await retrieveEntries(log, req);
  }
  if (path.startsWith(`${ENTRIES}/`) && req.method === "GET") {
    const entry = log.byUuid(decodeURIComponent(path.slice(ENTRIES.length + 1)));
    return entry ? jsonResponse(200, entryResponse(log, entry)) : error(404, "entry not found");
  }
  if (path === "/api/v1/index/retrieve" && req.method === "POST") {
    return await searchIndex(log, req);
  }
  if (path === "/api/v1/log" && req.method === "GET") return jsonResponse(200, log.logInfo());
  if (path === "/api/v1/log/publicKey" && req.method === "GET") {
    const key = crypto.createPublicKey({
      key: Buffer.from(log.publicKeyDer),
      format: "der",
      type: "spki",
    });
    return new Response(key.export({ type: "spki", format: "pem" }).toString(), {
      headers: { "content-type": "application/x-pem-file" },
    });
  }
  return undefined;
}
