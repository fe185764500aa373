import assert from "node:assert/strict";
import { PasswordUnavailableError, UsageError } from "../errors/errors.ts";
import { cosignPasswordProvider, readHiddenLine, type TerminalInput } from "./password.ts";
import { exitStatusOf } from "../cli/exit_codes.ts";

/** A fake terminal that delivers `chunks` one read at a time and records raw-mode changes. */
function fakeTerminal(chunks: string[], tty = true) {
  const queue = chunks.map((c) => new TextEncoder().encode(c));
  const raw: boolean[] = [];
  const input: TerminalInput = {
    isTerminal: () => tty,
    setRaw: (m) => void raw.push(m),
    read(buf) {
      const next = queue.shift();
      if (!next) return Promise.resolve(null);
      buf.set(next);
      return Promise.resolve(next.length);
    },
  };
  return { input, raw };
}

Deno.test("COSIGN_PASSWORD wins, even when empty, and no prompt is shown", async () => {
  const prompts: string[] = [];
  for (const value of ["s3cret", ""]) {
    const { input } = fakeTerminal(["typed\r"]);
    const get = cosignPasswordProvider({
      env: (n) => (n === "COSIGN_PASSWORD" ? value : undefined),
      input,
      prompt: (t) => void prompts.push(t),
    });
    assert.equal(await get({ confirm: true }), value);
  }
  assert.deepEqual(prompts, []);
});

Deno.test("no COSIGN_PASSWORD and no terminal: a clear error naming COSIGN_PASSWORD", async () => {
  const { input } = fakeTerminal([], false);
  const get = cosignPasswordProvider({ env: () => undefined, input, prompt: () => {} });
  await assert.rejects(
    get({ confirm: false }),
    (e) =>
      e instanceof PasswordUnavailableError && exitStatusOf(e) === 2 &&
      e.hint === "set COSIGN_PASSWORD",
  );
});

Deno.test("terminal prompt: asks twice when confirming, raw mode restored, nothing echoed", async () => {
  const { input, raw } = fakeTerminal(["hunt", "er2\r", "hunter2\n"]);
  const prompts: string[] = [];
  const get = cosignPasswordProvider({
    env: () => undefined,
    input,
    prompt: (t) => void prompts.push(t),
  });
  assert.equal(await get({ confirm: true }), "hunter2");
  assert.deepEqual(raw, [true, false, true, false]);
  assert.equal(prompts.filter((p) => p.startsWith("Enter password")).length, 2);
  assert.ok(!prompts.join("").includes("hunter2"));
});

Deno.test("terminal prompt: mismatching confirmation is refused", async () => {
  const { input, raw } = fakeTerminal(["one\r", "two\r"]);
  const get = cosignPasswordProvider({ env: () => undefined, input, prompt: () => {} });
  await assert.rejects(
    get({ confirm: true }),
    (e) => e instanceof UsageError && /do not match/.test(e.message),
  );
  assert.deepEqual(raw, [true, false, true, false]);
});

Deno.test("terminal prompt: a single ask when not confirming", async () => {
  const { input, raw } = fakeTerminal(["pw\r", "never read\r"]);
  const get = cosignPasswordProvider({ env: () => undefined, input, prompt: () => {} });
  assert.equal(await get({ confirm: false }), "pw");
  assert.deepEqual(raw, [true, false]);
});

Deno.test("readHiddenLine: backspace (also over UTF-8), Ctrl-U, Ctrl-C, end of input", async () => {
  const read = (chunks: string[]) => readHiddenLine(fakeTerminal(chunks).input);
  assert.equal(await read(["abc\x7fd\r"]), "abd");
  assert.equal(await read(["pé\x08\x08x\r"]), "x");
  assert.equal(await read(["wrong\x15right\r"]), "right");
  assert.equal(await read(["\r"]), "");
  await assert.rejects(read(["abc\x03def\r"]), UsageError);
  await assert.rejects(read(["abc"]), UsageError);
  await assert.rejects(read(["\x04"]), UsageError);
});

Deno.test("terminal prompt: raw mode is restored after Ctrl-C", async () => {
  const { input, raw } = fakeTerminal(["\x03"]);
  const get = cosignPasswordProvider({ env: () => undefined, input, prompt: () => {} });
  await assert.rejects(get({ confirm: false }), UsageError);
  assert.deepEqual(raw, [true, false]);
});
