/**
 * `deno run http://…/mod.ts`: the entry point works from an HTTP origin.
 * The repository is served over loopback HTTP; a remote module does not get
 * the local `deno.json`, so the served `deno.json` is passed as the import
 * map (`--import-map http://…/deno.json`), which keeps the npm versions in
 * one place. Real signatures from `../shared/testdata` are verified, and a
 * tampered one is refused, by the served code with the narrowest permissions.
 */
import assert from "node:assert/strict";
import { basename, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { testdata, testdataOrSkip } from "./helpers/testdata.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".ts": "application/typescript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
};

/** Serve the repository's .ts and .json files under `/<prefix>/`. */
function serveRepository(prefix: string, log: string[]): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    log.push(path);
    if (!path.startsWith(`/${prefix}/`)) return new Response("not found", { status: 404 });
    const rel = normalize(path.slice(prefix.length + 2));
    const type = CONTENT_TYPES[extname(rel)];
    if (!type || rel.startsWith("..") || rel.startsWith("node_modules/")) {
      return new Response("not found", { status: 404 });
    }
    try {
      const file = await Deno.open(join(ROOT, rel));
      return new Response(file.readable, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

async function run(args: string[], cwd: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

async function firstSignatureFile(kind: "valid" | "tampered"): Promise<string> {
  const base = testdata("dangerzone", "signatures", kind);
  for await (const dir of Deno.readDir(base)) {
    if (!dir.isDirectory) continue;
    for await (const f of Deno.readDir(join(base, dir.name))) {
      if (f.name.endsWith(".json")) return join(base, dir.name, f.name);
    }
  }
  throw new Error(`no ${kind} signature file`);
}

Deno.test({
  name: "run from URL: verify-signatures served over HTTP verifies real signatures",
  ignore: testdataOrSkip("run from URL"),
  sanitizeResources: false,
  async fn() {
    const prefix = crypto.randomUUID(); // fresh URLs: nothing stale in Deno's module cache
    const log: string[] = [];
    const server = serveRepository(prefix, log);
    const cwd = await Deno.makeTempDir(); // no deno.json here: only what is served counts
    try {
      const origin = `http://127.0.0.1:${server.addr.port}/${prefix}`;
      const key = testdata("dangerzone", "test.pub.key");
      const valid = await firstSignatureFile("valid");
      const base = [
        "run",
        `--allow-import=127.0.0.1:${server.addr.port}`,
        "--import-map",
        `${origin}/deno.json`,
      ];
      const good = await run([
        ...base,
        `--allow-read=${key},${valid}`,
        `${origin}/mod.ts`,
        "verify-signatures",
        "--key",
        key,
        valid,
        "--digest",
        `sha256:${basename(valid, ".json")}`,
      ], cwd);
      assert.equal(good.code, 0, good.stderr);
      assert.match(good.stdout, /all \d+ signature\(s\) verified with key/);
      assert.ok(log.includes(`/${prefix}/mod.ts`));
      assert.ok(log.includes(`/${prefix}/lib/trust/public_good_trusted_root.json`));

      // The same served code refuses a tampered signature (exit 1).
      const tampered = await firstSignatureFile("tampered");
      const bad = await run([
        ...base,
        `--allow-read=${key},${tampered}`,
        `${origin}/mod.ts`,
        "verify-signatures",
        "--key",
        key,
        tampered,
        "--digest",
        `sha256:${basename(tampered, ".json")}`,
      ], cwd);
      assert.equal(bad.code, 1, bad.stdout + bad.stderr);

      // `--help` from the URL too.
      const help = await run([...base, `${origin}/mod.ts`, "--help"], cwd);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /Usage: dangerzone-image <command>/);
    } finally {
      await server.shutdown();
      await Deno.remove(cwd, { recursive: true });
    }
  },
});
