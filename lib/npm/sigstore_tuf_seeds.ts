/**
 * The TUF seeds (root and trusted_root.json) of `@sigstore/tuf@5.0.1`,
 * pinned here and only here, so the program also runs from a URL without an
 * import map.
 *
 * @module
 */

export { default } from "npm:@sigstore/tuf@5.0.1/seeds.json" with { type: "json" };
