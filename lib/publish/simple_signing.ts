/**
 * cosign's "simple signing" payload: the JSON document a cosign image
 * signature signs, binding the signature to one manifest digest.
 *
 * @module
 */

import { parseDigest } from "../digest/digest.ts";

/** `critical.type` of a cosign image signature. */
const SIMPLE_SIGNING_TYPE = "cosign container image signature";

/**
 * The payload for `dockerReference` (`registry/repository`, no tag) and
 * `digest`, with optional annotations, serialized as cosign does (same key
 * order; `optional` is `null` without annotations).
 */
export function simpleSigningPayload(
  dockerReference: string,
  digest: string,
  annotations?: Record<string, string>,
): Uint8Array {
  const doc = {
    critical: {
      identity: { "docker-reference": dockerReference },
      image: { "docker-manifest-digest": parseDigest(digest) },
      type: SIMPLE_SIGNING_TYPE,
    },
    optional: annotations && Object.keys(annotations).length ? annotations : null,
  };
  return new TextEncoder().encode(JSON.stringify(doc));
}
