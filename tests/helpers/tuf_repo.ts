/**
 * A real TUF repository on loopback, built and signed with `@tufjs/models`
 * the way Sigstore's is laid out (consistent snapshots: `N.root.json`,
 * `timestamp.json`, `N.snapshot.json`, `N.targets.json`,
 * `targets/<sha256>.trusted_root.json`), for the trusted-root refresh tests.
 *
 * ```ts
 * await using repo = await startTufRepo();
 * repo.publish(trustedRootBytes);          // targets, snapshot, timestamp +1
 * repo.rotate({ timestamp: newTufKey() }); // root v2, signed by v1 and v2 keys
 * ```
 *
 * Tests tamper with {@linkcode TufRepo.files} directly (an attacker who
 * controls the server or the network, but not the keys).
 *
 * @module
 */

import crypto from "node:crypto";
import type { Buffer } from "node:buffer";
import { canonicalize } from "@tufjs/canonical-json";
import {
  Key,
  Metadata,
  MetaFile,
  Root,
  Signature,
  Snapshot,
  TargetFile,
  Targets,
  Timestamp,
} from "@tufjs/models";

/** A signing key of a TUF role. */
export interface TufKey {
  key: Key;
  sign(data: Buffer): Signature;
}

/** A fresh Ed25519 TUF key. */
export function newTufKey(): TufKey {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(12);
  const json = { keytype: "ed25519", scheme: "ed25519", keyval: { public: raw.toString("hex") } };
  const keyID = crypto.createHash("sha256").update(canonicalize(json)).digest("hex");
  const key = new Key({ keyID, keyType: "ed25519", scheme: "ed25519", keyVal: json.keyval });
  return {
    key,
    sign: (data) =>
      new Signature({ keyID, sig: crypto.sign(null, data, privateKey).toString("hex") }),
  };
}

/** Role keys of one root version. */
export interface TufKeys {
  root: TufKey;
  timestamp: TufKey;
  snapshot: TufKey;
  targets: TufKey;
}

/** A running repository. */
export interface TufRepo extends AsyncDisposable {
  /** Metadata base URL (`http://127.0.0.1:PORT`). */
  url: string;
  /** Served files by path (no leading slash); tamper freely. */
  files: Map<string, Uint8Array>;
  /** Root documents by version (index 0 = version 1). */
  roots: Uint8Array[];
  keys: TufKeys;
  /** Paths requested, in order. */
  requests: string[];
  /** Publish `trustedRoot` as the target: new targets, snapshot and timestamp versions. */
  publish(trustedRoot: Uint8Array, opts?: { expires?: Date; timestampExpires?: Date }): void;
  /** Only a new timestamp (same snapshot), e.g. after an expiry. */
  bumpTimestamp(opts?: { expires?: Date }): void;
  /** A new root version with some keys replaced, signed by the old and the new root keys. */
  rotate(keys: Partial<TufKeys>, opts?: { expires?: Date }): void;
  close(): Promise<void>;
}

const enc = new TextEncoder();
const DAY = 86_400_000;

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function bytesOf(md: Metadata<Root | Timestamp | Snapshot | Targets>): Uint8Array {
  return enc.encode(JSON.stringify(md.toJSON()));
}

function sha256(b: Uint8Array): string {
  return crypto.createHash("sha256").update(b).digest("hex");
}

/** Start a repository with root v1 (no targets published yet). */
export function startTufRepo(): Promise<TufRepo> {
  const files = new Map<string, Uint8Array>();
  const requests: string[] = [];
  const roots: Uint8Array[] = [];
  let keys: TufKeys = {
    root: newTufKey(),
    timestamp: newTufKey(),
    snapshot: newTufKey(),
    targets: newTufKey(),
  };
  let versions = { timestamp: 0, snapshot: 0, targets: 0 };
  let snapshotMeta: MetaFile | undefined;

  const buildRoot = (version: number, k: TufKeys, expires: Date) => {
    const root = new Root({
      version,
      specVersion: "1.0.31",
      expires: iso(expires),
      consistentSnapshot: true,
    });
    for (const role of ["root", "timestamp", "snapshot", "targets"] as const) {
      root.addKey(k[role].key, role);
    }
    return new Metadata(root);
  };
  const v1 = buildRoot(1, keys, new Date(Date.now() + 365 * DAY));
  v1.sign(keys.root.sign);
  roots.push(bytesOf(v1));
  files.set("1.root.json", roots[0]);

  const writeTimestamp = (expires: Date) => {
    versions.timestamp++;
    const ts = new Metadata(
      new Timestamp({
        version: versions.timestamp,
        specVersion: "1.0.31",
        expires: iso(expires),
        snapshotMeta: snapshotMeta!,
      }),
    );
    ts.sign(keys.timestamp.sign);
    files.set("timestamp.json", bytesOf(ts));
  };

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname.slice(1));
      requests.push(path);
      const body = files.get(path);
      return body
        ? new Response(body as BodyInit, { headers: { "content-type": "application/json" } })
        : new Response("not found", { status: 404 });
    },
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const close = async () => {
    await server.shutdown();
  };
  const repo: TufRepo = {
    url,
    files,
    roots,
    get keys() {
      return keys;
    },
    requests,
    publish(trustedRoot, opts = {}) {
      const expires = opts.expires ?? new Date(Date.now() + 30 * DAY);
      versions = { ...versions, snapshot: versions.snapshot + 1, targets: versions.targets + 1 };
      const targets = new Targets({
        version: versions.targets,
        specVersion: "1.0.31",
        expires: iso(expires),
      });
      targets.addTarget(
        new TargetFile({
          path: "trusted_root.json",
          length: trustedRoot.byteLength,
          hashes: { sha256: sha256(trustedRoot) },
        }),
      );
      const tmd = new Metadata(targets);
      tmd.sign(keys.targets.sign);
      const tBytes = bytesOf(tmd);
      files.set(`${versions.targets}.targets.json`, tBytes);
      files.set(`targets/${sha256(trustedRoot)}.trusted_root.json`, trustedRoot);
      const snap = new Metadata(
        new Snapshot({
          version: versions.snapshot,
          specVersion: "1.0.31",
          expires: iso(expires),
          meta: {
            "targets.json": new MetaFile({
              version: versions.targets,
              length: tBytes.byteLength,
              hashes: { sha256: sha256(tBytes) },
            }),
          },
        }),
      );
      snap.sign(keys.snapshot.sign);
      const sBytes = bytesOf(snap);
      files.set(`${versions.snapshot}.snapshot.json`, sBytes);
      snapshotMeta = new MetaFile({
        version: versions.snapshot,
        length: sBytes.byteLength,
        hashes: { sha256: sha256(sBytes) },
      });
      writeTimestamp(opts.timestampExpires ?? new Date(Date.now() + 7 * DAY));
    },
    bumpTimestamp(opts = {}) {
      writeTimestamp(opts.expires ?? new Date(Date.now() + 7 * DAY));
    },
    rotate(changes, opts = {}) {
      const old = keys.root;
      keys = { ...keys, ...changes };
      const md = buildRoot(
        roots.length + 1,
        keys,
        opts.expires ?? new Date(Date.now() + 365 * DAY),
      );
      md.sign(old.sign);
      if (keys.root !== old) md.sign(keys.root.sign);
      const b = bytesOf(md);
      roots.push(b);
      files.set(`${roots.length}.root.json`, b);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return Promise.resolve(repo);
}
