/**
 * Regenerate `lib/trust/public_good_trusted_root.json` from the
 * `trusted_root.json` target embedded in `@sigstore/tuf`'s `seeds.json`
 * (the public-good Sigstore TUF repository, `https://tuf-repo-cdn.sigstore.dev`).
 *
 * The project ships that file as data instead of importing `@sigstore/tuf` at
 * run time (which would pull the whole TUF network stack into the binary).
 * Run after bumping `@sigstore/tuf` in `deno.json`, review the diff, commit:
 *
 *     deno run --allow-read --allow-write scripts/refresh_trusted_root.ts
 *
 * @module
 */

import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const SEED_REPO = "https://tuf-repo-cdn.sigstore.dev";
const OUTPUT = fileURLToPath(
  new URL("../lib/trust/public_good_trusted_root.json", import.meta.url),
);

/** Extract the trusted root JSON text from a parsed `seeds.json`. */
export function trustedRootFromSeeds(seeds: unknown): unknown {
  const repo = (seeds as Record<string, { targets?: Record<string, string> }>)[SEED_REPO];
  const b64 = repo?.targets?.["trusted_root.json"];
  if (typeof b64 !== "string") {
    throw new Error(`seeds.json has no trusted_root.json target for ${SEED_REPO}`);
  }
  const text = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
  return JSON.parse(text);
}

if (import.meta.main) {
  const require = createRequire(import.meta.url);
  // The seeds file ships inside the npm package; resolve it without loading the TUF client.
  const seedsPath = require.resolve("@sigstore/tuf/seeds.json");
  const seeds = JSON.parse(await Deno.readTextFile(seedsPath));
  const root = trustedRootFromSeeds(seeds);
  await Deno.writeTextFile(OUTPUT, JSON.stringify(root, null, 2) + "\n");
  console.log(`wrote ${OUTPUT} from ${seedsPath}`);
}
