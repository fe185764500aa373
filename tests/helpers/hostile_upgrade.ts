/**
 * The hostile-registry scenarios' shared parts: a small image behind
 * `/v2/dz/app/manifests/latest`, a bearer-token registry, `upgrade` run as
 * a child process against a scripted server, and the check that it was
 * refused with one line, bounded in time and memory, installing nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256Digest } from "../../lib/digest/digest.ts";
import {
  type CliRun,
  type HostileRegistry,
  runCli,
  startHostileRegistry,
} from "./hostile_server.ts";
import { exists } from "./files.ts";

const enc = new TextEncoder();

/** Peak RSS a refused run may reach (the runtime's own baseline is ~150 MiB). */
export const RSS_BOUND_MIB = 400;
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

/** A small image manifest (the tag's target) and its digest. */
export function imageManifest(): { bytes: Uint8Array; digest: string } {
  const config = enc.encode('{"architecture":"amd64","os":"linux"}');
  const bytes = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: sha256Digest(config),
      size: config.length,
    },
    layers: [],
  }));
  return { bytes, digest: sha256Digest(bytes) };
}

/** The tag's target in every scenario. */
export const IMAGE = imageManifest();

export function manifestResponse(bytes: Uint8Array, type = OCI_MANIFEST, head = false): Response {
  return new Response(head ? null : bytes as BodyInit, {
    headers: {
      "content-type": type,
      "content-length": String(bytes.length),
      "docker-content-digest": sha256Digest(bytes),
    },
  });
}

/** Routes every scenario shares: `/v2/` and the tag. */
export function base(req: Request, url: URL): Response | undefined {
  if (url.pathname === "/v2/") return new Response("{}");
  if (url.pathname === "/v2/dz/app/manifests/latest") {
    return manifestResponse(IMAGE.bytes, OCI_MANIFEST, req.method === "HEAD");
  }
  return undefined;
}

export async function upgrade(host: string, extra: string[] = [], killAfterMs = 90_000): Promise<{
  run: CliRun;
  dataDir: string;
  images: string;
}> {
  const dir = await Deno.makeTempDir({ prefix: "dz-hostile-" });
  const dataDir = join(dir, "data");
  const images = join(dir, "images");
  const run = await runCli([
    "upgrade",
    `${host}/dz/app`,
    "--data-dir",
    dataDir,
    "--runtime",
    `oci:${images}`,
    "--progress",
    "none",
    // The trusted root stays the embedded one: no refresh from Sigstore's TUF repository here.
    "--offline",
    ...extra,
  ], { killAfterMs, env: { HOME: dir } });
  return { run, dataDir, images };
}

/** The run ended by itself, refused with one line naming `host`, bounded. */
export async function assertRefused(
  r: { run: CliRun; images: string },
  host: string,
  o: { code?: number; seconds: number; match?: RegExp; namesHost?: boolean },
): Promise<void> {
  const { run } = r;
  const lines = run.stderr.trim().split("\n");
  const detail = `exit ${run.code} in ${run.seconds.toFixed(1)} s, peak ${run.peakRssMiB} MiB: ${
    run.stderr.slice(0, 600)
  }`;
  assert.notEqual(run.code, 137, `killed by the watchdog: ${detail}`);
  assert.equal(run.code, o.code ?? 3, detail);
  assert.equal(lines.length, 1, detail);
  if (o.namesHost !== false) assert.ok(lines[0].includes(host), `names the host: ${detail}`);
  if (o.match) assert.match(lines[0], o.match, detail);
  assert.ok(run.seconds < o.seconds, `within ${o.seconds} s: ${detail}`);
  assert.ok(run.peakRssMiB > 0, "peak RSS was read");
  assert.ok(run.peakRssMiB < RSS_BOUND_MIB, `under ${RSS_BOUND_MIB} MiB: ${detail}`);
  assert.equal(await exists(join(r.images, "index.json")), false, "nothing installed");
  console.log(`  ${run.seconds.toFixed(1)} s, ${run.peakRssMiB} MiB: ${lines[0]}`);
}

export function bearerRegistry(token: (req: Request) => Response): HostileRegistry {
  let realm = "";
  const reg = startHostileRegistry((req, url) => {
    if (url.pathname === "/token") return token(req);
    if (!req.headers.get("authorization")) {
      return new Response("", {
        status: 401,
        headers: { "www-authenticate": `Bearer realm="${realm}",service="reg"` },
      });
    }
    return base(req, url);
  });
  realm = `http://${reg.host}/token`;
  return reg;
}
