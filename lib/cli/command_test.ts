import assert from "node:assert/strict";
import { defineCommand } from "./command.ts";
import { NetworkError, VerificationError } from "../errors/errors.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, sinks: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

const cmd = (run: () => Promise<number>) =>
  defineCommand({
    name: "demo",
    summary: "a test command",
    usage: "demo ARG",
    options: { flag: { type: "string", value: "V", description: "a flag" } },
    positionals: { min: 1, max: 1, names: "ARG" },
    examples: ["dangerzone-image demo x"],
    permissions: "none",
    run,
  });

Deno.test("command edge: exit codes and one-line errors", async () => {
  const refused = cmd(() =>
    Promise.reject(new VerificationError("SIGNATURE_INVALID", "signature is bad"))
  );
  let c = capture();
  assert.equal(await refused.main(["x"], c.sinks), 1);
  assert.deepEqual(c.err, ["dangerzone-image demo: signature is bad"]);

  const net = cmd(() => Promise.reject(new NetworkError("cannot reach x", { hint: "check y" })));
  c = capture();
  assert.equal(await net.main(["x", "--json"], c.sinks), 3);
  assert.deepEqual(c.err, ["dangerzone-image demo: cannot reach x (check y)"]);
  assert.deepEqual(JSON.parse(c.out[0]), {
    ok: false,
    error: { code: "NETWORK", message: "cannot reach x", hint: "check y" },
  });

  const bug = cmd(() => Promise.reject(new TypeError("boom")));
  c = capture();
  assert.equal(await bug.main(["x"], c.sinks), 3);
  assert.equal(c.err.length, 1, "no stack trace without --debug");
  c = capture();
  await bug.main(["x", "--debug"], c.sinks);
  assert.ok(c.err.length > 1 && /TypeError: boom/.test(c.err[1]), "stack with --debug");
});

Deno.test("command edge: usage errors exit 2, --help exits 0", async () => {
  const ok = cmd(() => Promise.resolve(0));
  for (
    const args of [[], ["a", "b"], ["x", "--nope"], ["x", "--progress", "loud"], ["x", "--flag"]]
  ) {
    const c = capture();
    assert.equal(await ok.main(args, c.sinks), 2, args.join(" "));
    assert.equal(c.err.length, 1);
  }
  const c = capture();
  assert.equal(await ok.main(["--help"], c.sinks), 0);
  assert.match(c.out[0], /Usage: dangerzone-image demo ARG/);
  assert.match(c.out[0], /--json/);
  assert.doesNotMatch(c.out[0], /--insecure-registry/, "only the global options it uses");
  assert.match(c.out[0], /Deno permissions needed/);
});

Deno.test("command edge: options reach run typed from the spec, absent ones at their defaults", async () => {
  const seen: unknown[] = [];
  const typed = defineCommand({
    name: "typed",
    summary: "typed options",
    usage: "typed",
    options: {
      name: { type: "string", value: "N", description: "a string" },
      tag: { type: "string", multiple: true, value: "T", description: "repeatable" },
      force: { type: "boolean", description: "off unless given" },
      upload: { type: "boolean", default: true, description: "on unless turned off" },
    },
    positionals: { min: 0, max: 0 },
    examples: [],
    permissions: "none",
    run(ctx) {
      // Compile-time types: a string option is string | undefined, a repeatable one
      // string[], a boolean boolean (no casts needed).
      const name: string | undefined = ctx.options.name;
      const tags: string[] = ctx.options.tag;
      const force: boolean = ctx.options.force;
      const upload: boolean = ctx.options.upload;
      seen.push({ name, tags, force, upload });
      return Promise.resolve(0);
    },
  });
  const c = capture();
  assert.equal(await typed.main([], c.sinks), 0);
  assert.equal(
    await typed.main(
      ["--name", "x", "--tag", "a", "--tag", "b", "--force", "--upload=false"],
      c.sinks,
    ),
    0,
  );
  assert.deepEqual(seen, [
    { name: undefined, tags: [], force: false, upload: true },
    { name: "x", tags: ["a", "b"], force: true, upload: false },
  ]);
});
