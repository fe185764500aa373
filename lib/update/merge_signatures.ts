/**
 * Stored signatures and bundles merged with newly verified ones, each kept once.
 *
 * @module
 */

import type { CosignSignature } from "../signatures/model.ts";

/** Signatures in `a` plus those of `b` not already there (same signature bytes). */
export function mergeSignatures(a: CosignSignature[], b: CosignSignature[]): CosignSignature[] {
  const seen = new Set(a.map((s) => s.raw.Base64Signature + s.raw.Payload));
  return [...a, ...b.filter((s) => !seen.has(s.raw.Base64Signature + s.raw.Payload))];
}

/** Bundles in `a` plus those of `b` not already there (same JSON), each once. */
export function mergeBundles(a: readonly unknown[], b: readonly unknown[]): unknown[] {
  const seen = new Set<string>();
  return [...a, ...b].filter((x) => {
    const k = JSON.stringify(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
