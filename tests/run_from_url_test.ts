/**
 * `deno run http://…/mod.ts`: the entry point works from an HTTP origin.
 * The repository is served over loopback HTTP; a remote module does not get
 * the local `deno.json`. The code needs none: npm versions are pinned in
 * `lib/npm/*.ts` (deno.json maps the bare names there), so a plain
 * `deno run -A URL …` works, even from a host serving everything as
 * text/plain; the served deno.json as `--import-map` works too. Real
 * signatures from `../shared/testdata` are verified, and a tampered one is
 * refused, by the served code (the first test with the narrowest permissions).
 */
import assert from "node:assert/strict";
import { basename, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { testdata, testdataOrSkip } from "./helpers/testdata.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".ts": "application/typescript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
};

/**
 * Serve the repository's .ts and .json files under `/<prefix>/`, with their
 * own content types, or every file as `plainType` (a static file host).
 */
function serveRepository(
  prefix: string,
  log: string[],
  plainType?: string,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    log.push(path);
    if (!path.startsWith(`/${prefix}/`)) return new Response("not found", { status: 404 });
    const rel = normalize(path.slice(prefix.length + 2));
    const type = CONTENT_TYPES[extname(rel)] && (plainType ?? CONTENT_TYPES[extname(rel)]);
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
      assert.match(help.stdout, /Usage: dangerzone-image \[global options\] <command>/);
    } finally {
      await server.shutdown();
      await Deno.remove(cwd, { recursive: true });
    }
  },
});

Deno.test({
  name: "run from URL: one command, no import map, served as text/plain (deno run -A URL …)",
  ignore: testdataOrSkip("run from URL"),
  sanitizeResources: false,
  async fn() {
    const prefix = crypto.randomUUID();
    const log: string[] = [];
    const server = serveRepository(prefix, log, "text/plain");
    const cwd = await Deno.makeTempDir(); // no deno.json here
    try {
      const url = `http://127.0.0.1:${server.addr.port}/${prefix}/mod.ts`;
      const key = testdata("dangerzone", "test.pub.key");
      const valid = await firstSignatureFile("valid");
      const digest = `sha256:${basename(valid, ".json")}`;
      // Global options before the command name, as a user types them.
      const good = await run(
        ["run", "-A", url, "--json", "verify-signatures", "--key", key, valid, "--digest", digest],
        cwd,
      );
      assert.equal(good.code, 0, good.stderr);
      const doc = JSON.parse(good.stdout);
      assert.equal(doc.ok, true);
      assert.ok(doc.signatures >= 1);
      assert.doesNotMatch(good.stderr, /not a dependency|error:/);
      // No bare specifier was fetched as a URL: every path asked for is a file of the
      // repository. deno.json is read as a JSON module (the version's one home, mod.ts),
      // once, never as a config: the run resolves every bare name through lib/npm/*.ts.
      const strays = log.filter((p) => !existsSync(join(ROOT, p.slice(prefix.length + 2))));
      assert.deepEqual(strays, [], log.join("\n"));
      assert.ok(log.filter((p) => p.endsWith("/deno.json")).length <= 1, log.join("\n"));

      const tampered = await firstSignatureFile("tampered");
      const bad = await run([
        "run",
        "-A",
        url,
        "verify-signatures",
        "--key",
        key,
        tampered,
        "--digest",
        `sha256:${basename(tampered, ".json")}`,
      ], cwd);
      assert.equal(bad.code, 1, bad.stdout + bad.stderr);
      assert.doesNotMatch(bad.stderr, /^\s+at /m, "no stack trace");

      const help = await run(["run", "-A", url, "help", "upgrade"], cwd);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /Usage: dangerzone-image upgrade/);
    } finally {
      await server.shutdown();
      await Deno.remove(cwd, { recursive: true });
    }
  },
});
