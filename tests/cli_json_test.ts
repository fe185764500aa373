/**
 * Every command's `--json` success and failure document, produced for real
 * (a docker-registry on loopback, the local Sigstore, an OCI store, the
 * SLSA layouts of the test data), checked against the tables of
 * `docs/json.md`: one object on one line, `ok`, every listed field of the
 * right type, no field that is not listed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { COMMANDS } from "../mod.ts";
import type { Command } from "../lib/cli/command.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import { startRegistry } from "./helpers/registry.ts";
import { testdata, testdataOrSkip } from "./helpers/testdata.ts";
import { bundlePath } from "../lib/store/signature_store.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { envWith } from "./helpers/env.ts";

/** Environment variables the commands of this file read (never set process-wide). */
const testEnv: Record<string, string | undefined> = {};

const DOC = fileURLToPath(new URL("../docs/json.md", import.meta.url));

/** One row of a docs/json.md table. */
export interface FieldRule {
  types: string[];
  optional: boolean;
}

/** docs/json.md → section name → field path → rule. */
export function parseJsonDoc(text: string): Map<string, Map<string, FieldRule>> {
  const sections = new Map<string, Map<string, FieldRule>>();
  let current: Map<string, FieldRule> | undefined;
  for (const line of text.split("\n")) {
    const h = /^## (.+)$/.exec(line);
    if (h) {
      current = new Map();
      sections.set(h[1].trim(), current);
      continue;
    }
    // | `field` | type | when | meaning |  (cells padded by deno fmt; `\|` inside a cell)
    const cells = line.startsWith("| `")
      ? line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim())
      : [];
    const field = /^`([^`]+)`$/.exec(cells[0] ?? "")?.[1];
    if (field && current && (cells[2] === "always" || cells[2] === "optional")) {
      current.set(field, {
        types: cells[1].split("\\|").map((t) => t.trim()),
        optional: cells[2] === "optional",
      });
    }
  }
  return sections;
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function matches(v: unknown, types: string[]): boolean {
  return types.some((t) =>
    t === "true" ? v === true : t === "false" ? v === false : typeOf(v) === t
  );
}

/** Problems of `doc` against `rules` (empty when it conforms). */
export function checkDocument(
  doc: Record<string, unknown>,
  rules: Map<string, FieldRule>,
): string[] {
  const problems: string[] = [];
  for (const [path, rule] of rules) {
    const parts = path.split(".");
    let v: unknown = doc;
    for (const p of parts) v = (v as Record<string, unknown> | undefined)?.[p];
    if (v === undefined) {
      if (!rule.optional) problems.push(`missing ${path}`);
    } else if (!matches(v, rule.types)) {
      problems.push(`${path} is ${typeOf(v)}, documented ${rule.types.join("|")}`);
    }
  }
  // No undocumented field (at the top level, and inside documented objects with listed children).
  const check = (obj: Record<string, unknown>, prefix: string) => {
    for (const k of Object.keys(obj)) {
      const path = prefix + k;
      if (!rules.has(path)) problems.push(`undocumented field ${path}`);
      const hasChildren = [...rules.keys()].some((r) => r.startsWith(`${path}.`));
      if (hasChildren && typeOf(obj[k]) === "object") {
        check(obj[k] as Record<string, unknown>, `${path}.`);
      }
    }
  };
  check(doc, "");
  return problems;
}

const RULES = parseJsonDoc(Deno.readTextFileSync(DOC));

async function runJson(cmd: Command, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cmd.main([...args, "--json"], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: envWith(testEnv),
  });
  return { code, out, err };
}

Deno.test("docs/json.md: every command has a section; its tables parse", () => {
  for (const name of Object.keys(COMMANDS)) {
    assert.ok(RULES.has(name), `docs/json.md has no '## ${name}' section`);
    assert.ok(RULES.get(name)!.has("ok"), `${name}: ok documented`);
  }
  assert.deepEqual([...RULES.get("failure")!.keys()], [
    "ok",
    "error",
    "error.code",
    "error.message",
    "error.hint",
  ]);
  // The checker itself refuses what it should.
  const r = RULES.get("tag")!;
  assert.deepEqual(checkDocument({ ok: true, image: "a", digest: "d", previous: null }, r), []);
  assert.equal(
    checkDocument({ ok: true, image: 1, digest: "d", previous: null, x: 1 }, r).length,
    2,
  );
});

Deno.test({
  name: "--json: every command's success and failure match docs/json.md",
  ignore: testdataOrSkip("cli json"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    await using authReg = await startRegistry({ auth: "htpasswd" });
    const dir = lab.dir;
    const data = join(dir, "data");
    const store = join(dir, "store");
    const repo = "dz/json";
    const load = async (name: string) => (await COMMANDS[name].load()).command;
    const seen = new Map<string, Set<"success" | "failure">>();
    const problems: string[] = [];

    /** Run, expect `code`, check the one document. */
    const expect = async (name: string, args: string[], code: number) => {
      const r = await runJson(await load(name), args);
      const what = `${name} ${args.join(" ")}`;
      assert.equal(r.code, code, `${what}: exit ${r.code}\n${r.err.join("\n")}`);
      assert.equal(r.out.length, 1, `${what}: one document on stdout, got ${r.out.length}`);
      assert.ok(!r.out[0].includes("\n"), `${what}: on one line`);
      const doc = JSON.parse(r.out[0]);
      assert.equal(doc.ok, code === 0, `${what}: ok`);
      const rules = new Map(RULES.get(code === 0 ? name : "failure")!);
      if (code !== 0) {
        for (const [k, v] of RULES.get(`${name} (failure)`) ?? []) rules.set(k, v);
      }
      for (const p of checkDocument(doc, rules)) problems.push(`${what}: ${p}`);
      if (code !== 0 && !doc.results) {
        // The stderr line is the message (and hint); verify-signatures prints one per signature.
        assert.ok(r.err.some((l) => l.includes(doc.error.message)), `${what}: stderr line`);
      }
      seen.set(name, (seen.get(name) ?? new Set()).add(code === 0 ? "success" : "failure"));
      return doc;
    };

    testEnv.COSIGN_PASSWORD = "json-test";
    try {
      // generate-key-pair
      const prefix = join(dir, "k");
      await expect("generate-key-pair", ["--output-key-prefix", prefix], 0);
      await expect("generate-key-pair", ["--output-key-prefix", prefix], 3);
      const pub = `${prefix}.pub`;
      const trust = ["--key", pub, "--trusted-root", lab.rootPath];
      const inst = [
        ...trust,
        "--data-dir",
        data,
        "--runtime",
        `oci:${store}`,
        "--progress",
        "none",
      ];

      // sign (both kinds), and a usage failure
      const d1 = await lab.push(repo, { v: "1" }, "latest");
      const signArgs = ["--key", `${prefix}.key`, "--trusted-root", lab.rootPath];
      const image1 = `${lab.reg.host}/${repo}@${d1}`;
      await expect("sign", [image1, ...signArgs, "--rekor-url", lab.rekorUrl], 0);
      await expect("sign", [image1, ...signArgs, "--rekor-url", lab.rekorUrl, "--bundle"], 0);
      await expect("sign", [`${lab.reg.host}/${repo}:latest`, ...signArgs], 2);

      // sign-blob, and a missing file
      const blob = join(dir, "blob.bin");
      await Deno.writeTextFile(blob, "release artifact");
      const blobArgs = ["--key", `${prefix}.key`, "--trusted-root", lab.rootPath];
      await expect(
        "sign-blob",
        [blob, "--bundle", `${blob}.sigstore.json`, ...blobArgs, "--rekor-url", lab.rekorUrl],
        0,
      );
      await expect(
        "sign-blob",
        [join(dir, "missing.bin"), "--bundle", join(dir, "m.json"), ...blobArgs],
        2,
      );

      // tag
      await expect("tag", [image1, "v1"], 0);
      await expect("tag", [`${lab.reg.host}/${repo}@sha256:${"1".repeat(64)}`, "v0"], 3);

      // upgrade --check, upgrade, status, verify-local
      const name = `${lab.reg.host}/${repo}:latest`;
      const check = await expect("upgrade", [`${lab.reg.host}/${repo}`, ...inst, "--check"], 0);
      assert.equal(check.updateAvailable, true);
      await expect("upgrade", [`${lab.reg.host}/${repo}`, ...inst], 0);
      await expect("upgrade", [`${lab.reg.host}/dz/unsigned`, ...inst], 3); // no such repo
      await lab.push("dz/unsigned", { v: "u" }, "latest");
      await expect("upgrade", [`${lab.reg.host}/dz/unsigned`, ...inst], 1);
      await expect("status", [name, "--data-dir", data], 0);
      await expect("status", [`${lab.reg.host}/${repo}@${d1}`, "--data-dir", data], 2);
      await expect("verify-local", [name, ...inst], 0);
      await expect("verify-local", [`${lab.reg.host}/dz/never:latest`, ...inst], 1);

      // store-signatures; copy to a mirror repository (verified first), refused when unsigned
      await expect("store-signatures", [name, ...trust, "--data-dir", join(dir, "data3")], 0);
      await expect("store-signatures", [`${lab.reg.host}/dz/unsigned`, ...trust], 1);
      await expect("copy", [name, `${lab.reg.host}/dz/mirror:latest`, ...trust], 0);
      await expect(
        "copy",
        [`${lab.reg.host}/dz/unsigned:latest`, `${lab.reg.host}/dz/mirror2:latest`, ...trust],
        1,
      );

      // verify-signatures: what upgrade stored; refused for another digest
      const keyId = (await loadTrustedKey(pub)).keyId;
      const sigFile = join(data, "signatures", keyId, `${d1.slice(7)}.json`);
      await expect("verify-signatures", [sigFile, "--digest", d1, ...trust], 0);
      const otherDigest = `sha256:${"2".repeat(64)}`;
      const vsFail = await expect(
        "verify-signatures",
        [sigFile, "--digest", otherDigest, ...trust],
        1,
      );
      assert.equal(vsFail.results[0].ok, false);

      // verify-bundle: the stored bundle, by the key; refused with the lab's other key
      const bundles = JSON.parse(await Deno.readTextFile(bundlePath(data, keyId, d1)));
      const bundleFile = join(dir, "b.sigstore.json");
      await Deno.writeTextFile(bundleFile, JSON.stringify(bundles[0]));
      await expect("verify-bundle", ["--bundle", bundleFile, ...trust, d1], 0);
      await expect(
        "verify-bundle",
        ["--bundle", bundleFile, "--key", lab.otherKeyPath, "--trusted-root", lab.rootPath, d1],
        1,
      );

      // prepare-archive → load-archive elsewhere; refusals
      const archive = join(dir, "dz.tar");
      await expect("prepare-archive", [image1, "--output", archive, ...trust], 0);
      await expect("prepare-archive", [image1, "--output", archive, ...trust], 2);
      const data2 = join(dir, "data2");
      const inst2 = [...trust, "--data-dir", data2, "--runtime", `oci:${join(dir, "store2")}`];
      await expect("load-archive", [archive, ...inst2], 0);
      const gz = join(dir, "dz.tar.gz");
      await Deno.writeFile(
        gz,
        new Uint8Array(
          await new Response(
            (await Deno.open(archive)).readable.pipeThrough(new CompressionStream("gzip")),
          ).arrayBuffer(),
        ),
      );
      await expect("load-archive", [gz, ...inst2], 2);

      // attest-provenance on the real SLSA layout; wrong repository refused
      const layout = testdata("slsa-github-generator", "v1.10.0", "container_workflow_dispatch");
      await expect(
        "attest-provenance",
        [`oci:${layout}`, "--repository", "slsa-framework/example-package"],
        0,
      );
      await expect("attest-provenance", [`oci:${layout}`, "--repository", "someone/else"], 1);

      // login / logout against a registry with htpasswd
      const authFile = join(dir, "auth.json");
      const auth = ["--authfile", authFile];
      await expect("login", [authReg.host, "-u", authReg.username!, "-p", "wrong", ...auth], 3);
      await expect(
        "login",
        [authReg.host, "-u", authReg.username!, "-p", authReg.password!, ...auth],
        0,
      );
      await expect("logout", [authReg.host, ...auth], 0);
      await expect("logout", [...auth], 2);

      // trust status, version, completion
      await expect("trust", ["status", "--data-dir", data], 0);
      await expect("trust", ["refresh"], 2);
      await expect("version", [], 0);
      await expect("version", ["extra"], 2);
      await expect("completion", ["bash"], 0);
      await expect("completion", ["tcsh"], 2);
    } finally {
      testEnv.COSIGN_PASSWORD = undefined;
    }

    assert.deepEqual(problems, []);
    for (const name of Object.keys(COMMANDS)) {
      assert.deepEqual(
        [...(seen.get(name) ?? [])].sort(),
        ["failure", "success"],
        `${name}: success and failure both exercised`,
      );
    }
  },
});
