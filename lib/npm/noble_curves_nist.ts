/**
 * `@noble/curves@2.4.0/nist.js`, pinned here and only here (deno.json maps the bare
 * name to this file), so the program also runs from a URL without an import map.
 *
 * @module
 */

export * from "npm:@noble/curves@2.4.0/nist.js";
