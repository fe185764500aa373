/**
 * The in-memory transparency log behind the local Rekor stand-in.
 *
 * Unlike `@sigstore/mock`'s log (random index, nothing kept), entries get
 * strictly increasing indexes 0, 1, 2, … and non-decreasing integrated times,
 * are kept, and come back with a signed entry timestamp (SET) computed over
 * their real values plus an RFC 6962 inclusion proof and a signed checkpoint,
 * exactly the shapes Rekor v1 returns.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { json } from "@sigstore/core";
import type { CanonicalEntry } from "./entry_types.ts";
import { leafHash, MerkleTree } from "./merkle.ts";

/** Rekor v1 `inclusionProof` of a log entry. */
export interface RekorInclusionProof {
  checkpoint: string;
  hashes: string[];
  logIndex: number;
  rootHash: string;
  treeSize: number;
}

/** Rekor v1 log entry (the value under the entry UUID in API responses). */
export interface RekorLogEntry {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: { signedEntryTimestamp: string; inclusionProof: RekorInclusionProof };
}

/** One stored entry. */
export interface StoredEntry {
  /** Hex RFC 6962 leaf hash of the body (Rekor's UUID). */
  uuid: string;
  /** Tree ID (16 hex digits) + UUID: Rekor's entry ID, the key of responses. */
  entryId: string;
  logIndex: number;
  integratedTime: number;
  kind: string;
  apiVersion: string;
  body: Uint8Array;
  signedEntryTimestamp: Uint8Array;
  searchHashes: string[];
}

/** Options of {@linkcode TransparencyLog}. */
export interface TransparencyLogOptions {
  /** ECDSA key pair of the log (signs SETs and checkpoints). */
  keyPair: { publicKey: crypto.KeyObject; privateKey: crypto.KeyObject };
  /** Checkpoint signer name and origin, e.g. `127.0.0.1:8080`; must occur in the log's base URL. */
  origin: string;
  /** Trillian tree ID (default random). */
  treeId?: bigint;
  /** Clock (default `new Date()`). */
  clock?: () => Date;
}

/** An append-only, in-memory Rekor v1 log. */
export class TransparencyLog {
  /** DER SPKI of the log key. */
  readonly publicKeyDer: Uint8Array;
  /** SHA-256 of the DER SPKI: the log ID. */
  readonly logId: Uint8Array;
  /** Trillian tree ID. */
  readonly treeId: bigint;
  readonly #privateKey: crypto.KeyObject;
  readonly #origin: string;
  readonly #clock: () => Date;
  readonly #tree = new MerkleTree();
  readonly #entries: StoredEntry[] = [];
  readonly #byUuid = new Map<string, StoredEntry>();
  #lastTime = 0;

  constructor(options: TransparencyLogOptions) {
    this.#privateKey = options.keyPair.privateKey;
    this.publicKeyDer = new Uint8Array(
      options.keyPair.publicKey.export({ type: "spki", format: "der" }),
    );
    this.logId = new Uint8Array(crypto.createHash("sha256").update(this.publicKeyDer).digest());
    this.#origin = options.origin;
    this.#clock = options.clock ?? (() => new Date());
    this.treeId = options.treeId ??
      (crypto.randomBytes(8).readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn);
  }

  /** Hex log ID, as in Rekor responses. */
  get logIdHex(): string {
    return Buffer.from(this.logId).toString("hex");
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * Append a validated entry. An identical body is not logged twice: the
   * existing entry comes back with `duplicate: true` (Rekor answers 409).
   */
  append(entry: CanonicalEntry): { entry: StoredEntry; duplicate: boolean } {
    const uuid = Buffer.from(leafHash(entry.body)).toString("hex");
    const existing = this.#byUuid.get(uuid);
    if (existing) return { entry: existing, duplicate: true };
    const logIndex = this.#tree.append(entry.body);
    const integratedTime = Math.max(this.#lastTime, Math.floor(this.#clock().getTime() / 1000));
    this.#lastTime = integratedTime;
    const stored: StoredEntry = {
      uuid,
      entryId: this.treeId.toString(16).padStart(16, "0") + uuid,
      logIndex,
      integratedTime,
      kind: entry.kind,
      apiVersion: entry.apiVersion,
      body: entry.body,
      signedEntryTimestamp: this.#signEntryTimestamp(entry.body, integratedTime, logIndex),
      searchHashes: entry.searchHashes,
    };
    this.#entries.push(stored);
    this.#byUuid.set(uuid, stored);
    return { entry: stored, duplicate: false };
  }

  /** Entry by UUID (64 hex) or entry ID (80 hex, this log's tree ID). */
  byUuid(id: string): StoredEntry | undefined {
    const lower = id.toLowerCase();
    if (/^[0-9a-f]{64}$/.test(lower)) return this.#byUuid.get(lower);
    if (/^[0-9a-f]{80}$/.test(lower)) {
      const entry = this.#byUuid.get(lower.slice(16));
      return entry?.entryId === lower ? entry : undefined;
    }
    return undefined;
  }

  /** Entry at a log index. */
  byIndex(index: number): StoredEntry | undefined {
    return Number.isSafeInteger(index) ? this.#entries[index] : undefined;
  }

  /** Entries whose artifact / payload digest is `algo:hex`. */
  byHash(hash: string): StoredEntry[] {
    const wanted = hash.toLowerCase();
    return this.#entries.filter((e) => e.searchHashes.includes(wanted));
  }

  /** Rekor v1 response value for an entry, with a proof against the current tree. */
  toRekorEntry(entry: StoredEntry): RekorLogEntry {
    const treeSize = this.size;
    return {
      body: Buffer.from(entry.body).toString("base64"),
      integratedTime: entry.integratedTime,
      logID: this.logIdHex,
      logIndex: entry.logIndex,
      verification: {
        signedEntryTimestamp: Buffer.from(entry.signedEntryTimestamp).toString("base64"),
        inclusionProof: {
          checkpoint: this.checkpoint(treeSize),
          hashes: this.#tree.inclusionProof(entry.logIndex, treeSize).map((h) =>
            Buffer.from(h).toString("hex")
          ),
          logIndex: entry.logIndex,
          rootHash: Buffer.from(this.#tree.rootHash(treeSize)).toString("hex"),
          treeSize,
        },
      },
    };
  }

  /** `GET /api/v1/log` body. */
  logInfo(): Record<string, unknown> {
    const treeSize = this.size;
    return {
      rootHash: Buffer.from(this.#tree.rootHash(treeSize)).toString("hex"),
      treeSize,
      signedTreeHead: this.checkpoint(treeSize),
      treeID: this.treeId.toString(),
      inactiveShards: [],
    };
  }

  /**
   * Signed checkpoint (transparency-dev signed note) for the tree of `size`
   * entries, in Rekor's format: origin line, size, base64 root hash,
   * timestamp, blank line, `— <name> base64(keyhint || signature)`.
   */
  checkpoint(size: number): string {
    const note = [
      `${this.#origin} - ${this.treeId}`,
      `${size}`,
      Buffer.from(this.#tree.rootHash(size)).toString("base64"),
      `Timestamp: ${BigInt(this.#clock().getTime()) * 1_000_000n}`,
      "",
    ].join("\n");
    const sig = crypto.sign("sha256", new TextEncoder().encode(note), this.#privateKey);
    const hinted = Buffer.concat([this.logId.subarray(0, 4), sig]).toString("base64");
    return `${note}\n\u2014 ${this.#origin} ${hinted}\n`;
  }

  // The SET: the log key's signature over canonical JSON
  // {body, integratedTime, logID, logIndex}, as Rekor's pkg/api/entries.go.
  #signEntryTimestamp(body: Uint8Array, integratedTime: number, logIndex: number): Uint8Array {
    const payload = json.canonicalize({
      body: Buffer.from(body).toString("base64"),
      integratedTime,
      logID: this.logIdHex,
      logIndex,
    });
    return new Uint8Array(
      crypto.sign("sha256", new TextEncoder().encode(payload), this.#privateKey),
    );
  }
}
