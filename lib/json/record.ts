/**
 * The one test for "a plain JSON object" that every parser of untrusted JSON
 * uses before reading fields.
 *
 * @module
 */

/** Is it a plain JSON object (not null, not an array)? */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
