/**
 * `modern-tar@0.8.6`, pinned here and only here (deno.json maps the bare
 * name to this file), so the program also runs from a URL without an import map.
 *
 * @module
 */

export * from "npm:modern-tar@0.8.6";
