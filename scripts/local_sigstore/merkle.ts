/**
 * RFC 6962 Merkle tree for the local Rekor stand-in: leaf / node hashing,
 * tree heads and inclusion proofs (section 2.1), the same structure Rekor
 * (Trillian) builds and `@sigstore/verify` checks.
 *
 * Hashing is SHA-256 from `node:crypto`; nothing here is a cryptographic
 * primitive, only the tree layout. Everything is recomputed on demand, which
 * is fine for the few hundred entries a test log holds.
 *
 * @module
 */

import { createHash } from "node:crypto";

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/** RFC 6962 leaf hash: SHA-256(0x00 || leaf). */
export function leafHash(leaf: Uint8Array): Uint8Array {
  return createHash("sha256").update(LEAF_PREFIX).update(leaf).digest();
}

/** RFC 6962 interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
}

/** Largest power of two strictly smaller than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** An append-only list of leaf hashes with RFC 6962 tree heads and proofs. */
export class MerkleTree {
  readonly #leaves: Uint8Array[] = [];

  /** Number of leaves. */
  get size(): number {
    return this.#leaves.length;
  }

  /** Append the leaf hash of `leaf`; returns its index. */
  append(leaf: Uint8Array): number {
    this.#leaves.push(leafHash(leaf));
    return this.#leaves.length - 1;
  }

  /** Merkle tree hash (MTH) of the first `size` leaves. */
  rootHash(size: number = this.size): Uint8Array {
    if (size < 0 || size > this.size) throw new RangeError(`tree size ${size} out of range`);
    if (size === 0) return createHash("sha256").digest();
    return this.#subtreeHash(0, size);
  }

  /**
   * Audit path (RFC 6962 PATH) of leaf `index` in the tree of the first
   * `size` leaves, lowest level first: the order `@sigstore/verify` and Rekor
   * use.
   */
  inclusionProof(index: number, size: number = this.size): Uint8Array[] {
    if (size < 1 || size > this.size) throw new RangeError(`tree size ${size} out of range`);
    if (index < 0 || index >= size) throw new RangeError(`leaf index ${index} out of range`);
    return this.#path(index, 0, size);
  }

  #subtreeHash(start: number, n: number): Uint8Array {
    if (n === 1) return this.#leaves[start];
    const k = splitPoint(n);
    return nodeHash(this.#subtreeHash(start, k), this.#subtreeHash(start + k, n - k));
  }

  #path(m: number, start: number, n: number): Uint8Array[] {
    if (n === 1) return [];
    const k = splitPoint(n);
    if (m < k) return [...this.#path(m, start, k), this.#subtreeHash(start + k, n - k)];
    return [...this.#path(m - k, start + k, n - k), this.#subtreeHash(start, k)];
  }
}
