/**
 * `@noble/hashes@2.4.0/scrypt.js`, pinned here and only here (deno.json maps the bare
 * name to this file), so the program also runs from a URL without an import map.
 *
 * @module
 */

export * from "npm:@noble/hashes@2.4.0/scrypt.js";
