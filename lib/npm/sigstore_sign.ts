/**
 * `@sigstore/sign@5.1.0`, pinned here and only here (deno.json maps the bare
 * name to this file), so the program also runs from a URL without an import map.
 *
 * @module
 */

export * from "npm:@sigstore/sign@5.1.0";
