/**
 * JSON from an attacker (archive indexes and manifests, signature files),
 * parsed only when its nesting stays shallow. `JSON.parse` itself copes
 * with a million nested arrays, but every recursive walk over the result
 * afterwards (comparisons, copies, validators) would overflow the stack:
 * the depth is checked first, in one pass over the text, before anything
 * is built.
 *
 * @module
 */

/** Nesting far beyond any OCI document or signature (they need 6 or so). */
export const MAX_JSON_DEPTH = 64;

/** Why {@linkcode parseBoundedJson} refused a document. */
export class JsonShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JsonShapeError";
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/** Deepest nesting of arrays and objects in `text` (brackets inside strings ignored). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) max = depth;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return max;
}

/**
 * `JSON.parse(text)`, refused with {@linkcode JsonShapeError} when arrays
 * and objects nest deeper than `maxDepth`; a `SyntaxError` when it is not
 * JSON at all.
 */
export function parseBoundedJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  const depth = jsonDepth(text);
  if (depth > maxDepth) {
    throw new JsonShapeError(`nests ${depth} levels deep (at most ${maxDepth} allowed)`);
  }
  return JSON.parse(text);
}
