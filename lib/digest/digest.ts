/**
 * Digests: parsing, computing, and a digesting stream that checks size and
 * sha256 in the same pass as the bytes flow (after containers/image's
 * digesting reader). A stream whose bytes do not match ends in an error
 * instead of closing, so consumers that only commit on a clean close never
 * keep a wrong byte.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { DigestMismatchError, InvalidReferenceError } from "../errors/errors.ts";
import { passThroughBytes } from "../fs/byte_stream.ts";

const SHA256 = /^sha256:[a-f0-9]{64}$/;
const HEX64 = /^[a-f0-9]{64}$/;

declare const digestBrand: unique symbol;

/**
 * A `sha256:<64 lowercase hex>` digest that was checked (by
 * {@linkcode parseDigest} or {@linkcode isDigest}) or computed (by
 * {@linkcode sha256Digest}): a string, but not any string. Code that builds
 * paths or requests from a digest takes this type, so an unchecked string
 * from a manifest cannot reach it without going through the parser.
 */
export type Digest = string & { readonly [digestBrand]: true };

/** Is it a `sha256:<64 lowercase hex>` digest? (The one digest syntax; {@linkcode parseDigest} explains a refusal.) */
export function isDigest(s: unknown): s is Digest {
  return typeof s === "string" && SHA256.test(s);
}

/** Is it 64 lowercase hex characters (a sha256 digest's hex part, a key id)? */
export function isSha256Hex(s: unknown): s is string {
  return typeof s === "string" && HEX64.test(s);
}

/** Validate a `sha256:<64 lowercase hex>` digest; returns it. */
export function parseDigest(input: string): Digest {
  if (!SHA256.test(input)) {
    if (/^sha256:[A-Fa-f0-9]{64}$/.test(input)) {
      throw new InvalidReferenceError(`digest '${input}' must be lowercase hex`);
    }
    if (HEX64.test(input)) {
      throw new InvalidReferenceError(`digest '${input}' needs its 'sha256:' prefix`);
    }
    throw new InvalidReferenceError(`'${input}' is not a sha256:<64 hex> digest`);
  }
  return input as Digest;
}

/** The hex part of a digest. */
export function digestHex(digest: string): string {
  return parseDigest(digest).slice("sha256:".length);
}

/** sha256 digest (`sha256:<hex>`) of bytes. */
export function sha256Digest(data: Uint8Array | string): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}` as Digest;
}

/** What a digesting stream expects. */
export interface Expected {
  digest: string;
  /** Exact size in bytes, when known. */
  size?: number;
  /** Where it came from, for error messages. */
  what?: string;
}

/**
 * The running size and sha256 check both digesting streams share: `onData`
 * throws as soon as more than `expected.size` bytes arrived; `onEnd` throws
 * unless the total size and the digest are exactly the expected ones.
 */
function digestCheck(
  expected: Expected,
  onChunk?: (bytes: number) => void,
): { onData(chunk: Uint8Array): void; onEnd(): void } {
  parseDigest(expected.digest);
  const hash = createHash("sha256");
  let seen = 0;
  const what = expected.what ?? expected.digest;
  return {
    onData(chunk) {
      seen += chunk.byteLength;
      if (expected.size !== undefined && seen > expected.size) {
        throw new DigestMismatchError(
          `${what}: more than the ${expected.size} bytes its descriptor declares`,
        );
      }
      hash.update(chunk);
      onChunk?.(chunk.byteLength);
    },
    onEnd() {
      if (expected.size !== undefined && seen !== expected.size) {
        throw new DigestMismatchError(
          `${what}: ${seen} bytes where its descriptor declares ${expected.size}`,
        );
      }
      const got = `sha256:${hash.digest("hex")}`;
      if (got !== expected.digest) {
        throw new DigestMismatchError(
          `${what}: content digest is ${got}, expected ${expected.digest}`,
        );
      }
    },
  };
}

/**
 * A pass-through stream that errors unless the bytes hash to
 * `expected.digest` and number exactly `expected.size`. Oversized content
 * fails as soon as it exceeds the size, without reading the rest.
 */
export function digestingStream(
  expected: Expected,
  onChunk?: (bytes: number) => void,
): TransformStream<Uint8Array, Uint8Array> {
  const check = digestCheck(expected, onChunk);
  return new TransformStream({
    transform(chunk, controller) {
      check.onData(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      check.onEnd();
    },
  });
}

/**
 * `source` as a byte stream that errors unless its bytes hash to
 * `expected.digest` and number exactly `expected.size` (the checks of
 * {@linkcode digestingStream}). A consumer reading it with a BYOB reader
 * gets the bytes straight into its own buffer, hashed there: no chunk is
 * allocated or copied on the way (see `lib/fs/byte_stream.ts`).
 */
export function digestingByteStream(
  source: ReadableStream<Uint8Array>,
  expected: Expected,
  onChunk?: (bytes: number) => void,
): ReadableStream<Uint8Array> {
  return passThroughBytes(source, digestCheck(expected, onChunk));
}

/**
 * Streams that check their own bytes: each was made by
 * {@linkcode verifyingStream} and errors (instead of closing) unless its
 * content is exactly the descriptor recorded here. Writers may skip a
 * second hash of such a stream for the same descriptor.
 */
const selfVerifying = new WeakMap<ReadableStream<Uint8Array>, { digest: string; size: number }>();

/**
 * `stream` passed through a digest and size check (`digestingByteStream`,
 * a byte stream: BYOB readers get the bytes straight into their own
 * buffer): the result errors at its end unless the bytes are exactly
 * `expected`. It is
 * remembered as self-verifying, so `OciLayout.writeBlob` (`lib/oci/layout.ts`) does not
 * hash it a second time.
 */
export function verifyingStream(
  stream: ReadableStream<Uint8Array>,
  expected: { digest: string; size: number; what?: string },
  onChunk?: (n: number) => void,
): ReadableStream<Uint8Array> {
  const out = digestingByteStream(stream, expected, onChunk);
  selfVerifying.set(out, { digest: expected.digest, size: expected.size });
  return out;
}

/** Does `stream` check itself against exactly this digest and size? */
export function isVerifyingStream(
  stream: ReadableStream<Uint8Array>,
  expected: { digest: string; size: number },
): boolean {
  const d = selfVerifying.get(stream);
  return d !== undefined && d.digest === expected.digest && d.size === expected.size &&
    Number.isSafeInteger(d.size);
}
