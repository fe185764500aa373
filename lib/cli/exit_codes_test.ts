import assert from "node:assert/strict";
import { ERROR_CODES, type ErrorCode, isErrorCode } from "../errors/codes.ts";
import { DzError, IoError, refuse, UsageError, VerificationError } from "../errors/errors.ts";
import { InterruptedError } from "../process/interrupt.ts";
import { errorDocument, exitCodeOf } from "./error_output.ts";
import { EXIT_STATUS, exitStatusOf, exitStatusOfCode } from "./exit_codes.ts";

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

Deno.test("every catalogue code maps to a documented exit status and has a one-line description", () => {
  assert.ok(CODES.length >= 60, `only ${CODES.length} codes`);
  for (const code of CODES) {
    assert.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, code);
    assert.ok([1, 2, 3, 130].includes(exitStatusOfCode(code)), code);
    const { description } = ERROR_CODES[code];
    assert.ok(description.length > 10 && !description.includes("\n"), code);
    assert.ok(isErrorCode(code));
  }
  assert.equal(isErrorCode("BAD"), false);
  assert.equal(isErrorCode("toString"), false);
  assert.deepEqual(EXIT_STATUS, { refused: 1, usage: 2, failure: 3, interrupted: 130 });
});

Deno.test("the exit statuses cli.md documents for named cases", () => {
  const expect: [ErrorCode, number][] = [
    ["NO_VALID_SIGNATURE", 1],
    ["IDENTITY_MISMATCH", 1],
    ["ROLLBACK", 1],
    ["DIGEST_MISMATCH", 1],
    ["LOCAL_STATE_TAMPERED", 1],
    ["ARCHIVE_INVALID", 1],
    ["USAGE", 2],
    ["REFERENCE_INVALID", 2],
    ["PLATFORM_MISSING", 2],
    ["KEY_FORMAT", 2],
    ["PASSWORD_REQUIRED", 2],
    ["NETWORK", 3],
    ["REGISTRY", 3],
    ["NOT_FOUND", 3],
    ["UNAUTHORIZED", 3],
    ["RUNTIME", 3],
    ["IO", 3],
    ["NO_SPACE", 3],
    ["KEY_DECRYPT", 3],
    ["PKCS11", 3],
    ["INTERRUPTED", 130],
  ];
  for (const [code, status] of expect) assert.equal(exitStatusOfCode(code), status, code);
});

Deno.test("errors carry the code's category; the edge maps thrown values to statuses", () => {
  assert.equal(exitStatusOf(new VerificationError("ROLLBACK", "x")), 1);
  assert.equal(exitStatusOf(new UsageError("x")), 2);
  assert.equal(exitStatusOf(new IoError("x")), 3);
  assert.equal(exitStatusOf(new InterruptedError()), 130);
  assert.equal(exitStatusOf(new TypeError("bug")), 3);
  assert.equal(exitStatusOf("a string"), 3);
  assert.equal(new UsageError("x").category, "usage");
  assert.equal(new DzError("PLATFORM_MISSING", "x").category, "usage");
  // An OS error escaping the library is made a DzError first (ENOSPC: a failure).
  const full = Object.assign(new Error("No space left on device (os error 28): write '/d/x'"), {
    code: "ENOSPC",
  });
  assert.equal(exitCodeOf(full), 3);
  assert.equal(errorDocument(full).error.code, "NO_SPACE");
});

Deno.test("refuse throws a VerificationError with the code, hint and cause", () => {
  const cause = new Error("inner");
  assert.throws(
    () => refuse("TLOG_MISMATCH", "the entry is for another payload", { hint: "h", cause }),
    (e: unknown) =>
      e instanceof VerificationError && e.code === "TLOG_MISMATCH" && e.hint === "h" &&
      e.cause === cause && e.message === "the entry is for another payload" &&
      exitStatusOf(e) === 1,
  );
  assert.throws(
    () => refuse("ROLLBACK", "older"),
    (e: unknown) => e instanceof VerificationError && e.hint === undefined && !("cause" in e),
  );
  // --json keeps the code, message and hint.
  try {
    refuse("SUBJECT_MISMATCH", "not a subject", { hint: "do not trust it" });
  } catch (e) {
    assert.deepEqual(errorDocument(e), {
      ok: false,
      error: { code: "SUBJECT_MISMATCH", message: "not a subject", hint: "do not trust it" },
    });
  }
});

Deno.test("docs/cli.md lists every code with its exit status (scripts/gen_cli_docs.ts)", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/cli.md", import.meta.url));
  const section = doc.slice(doc.indexOf("## Error codes"), doc.indexOf("## Environment variables"));
  const listed = new Map(
    [...section.matchAll(/^\|\s*`([A-Z0-9_]+)`\s*\|\s*`(\d+)`\s*\|/gm)].map((m) => [m[1], +m[2]]),
  );
  for (const code of CODES) assert.equal(listed.get(code), exitStatusOfCode(code), code);
  assert.equal(listed.size, CODES.length, "docs/cli.md lists codes the catalogue lacks");
});
