/** The dispatcher: every command of the contract exists with --help; unknown ones are usage errors. */
import assert from "node:assert/strict";
import { COMMANDS, main, usage } from "../mod.ts";

const CONTRACT = [
  "attest-provenance",
  "sign",
  "sign-blob",
  "generate-key-pair",
  "tag",
  "login",
  "logout",
  "upgrade",
  "verify-local",
  "verify-signatures",
  "verify-bundle",
  "prepare-archive",
  "load-archive",
  "status",
  "version",
  "completion",
  "copy",
  "store-signatures",
];

/** Commands beyond the contract (cli.md is silent on them). */
const EXTRA = ["trust"];

Deno.test("mod: every command in ../shared/cli.md (and status, version, completion, trust) is dispatched and has --help", async () => {
  assert.deepEqual(Object.keys(COMMANDS).sort(), [...CONTRACT, ...EXTRA].sort());
  for (const name of [...CONTRACT, ...EXTRA]) {
    const { command } = await COMMANDS[name].load();
    assert.equal(command.spec.name, name);
    const out: string[] = [];
    assert.equal(await command.main(["--help"], { out: (t) => out.push(t), err: () => {} }), 0);
    assert.match(out[0], new RegExp(`Usage: dangerzone-image ${name}`));
    assert.ok(command.spec.examples.length > 0, `${name} has an example`);
    assert.match(command.spec.permissions, /allow|none/, `${name} documents its permissions`);
  }
  assert.match(usage(), /verify-signatures/);
});

Deno.test("mod: unknown command is a usage error", async () => {
  const orig = console.error;
  const lines: string[] = [];
  console.error = (s: string) => lines.push(s);
  try {
    assert.equal(await main(["frobnicate"]), 2);
  } finally {
    console.error = orig;
  }
  assert.match(lines[0], /unknown command 'frobnicate'/);
});
