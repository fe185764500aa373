/**
 * Where a private key's password comes from, as cosign does it: the
 * `COSIGN_PASSWORD` environment variable when set (even empty), else an
 * echo-less prompt on the terminal (asked twice when creating a key), else
 * a clear error. The password never reaches output, errors or logs.
 *
 * @module
 */

import { PasswordUnavailableError, UsageError } from "../errors/errors.ts";
import { readEnvExact } from "../config/paths.ts";

/** Name of the environment variable cosign reads the password from. */
const PASSWORD_ENV = "COSIGN_PASSWORD";

/** What a password is wanted for. */
export interface PasswordRequest {
  /** Creating a key: ask twice and compare on a terminal. */
  confirm: boolean;
}

/** Supplies a key password on demand. */
export type PasswordProvider = (request: PasswordRequest) => Promise<string>;

/** A readable terminal, as `Deno.stdin` is. */
export interface TerminalInput {
  isTerminal(): boolean;
  setRaw(mode: boolean): void;
  read(buffer: Uint8Array): Promise<number | null>;
}

/** Where {@linkcode cosignPasswordProvider} looks; defaults to the real process. */
export interface PasswordSources {
  /** Reads an environment variable (default: this process's, `readEnvExact`). */
  env?: (name: string) => string | undefined;
  /** The terminal to prompt on (default `Deno.stdin`). */
  input?: TerminalInput;
  /** Writes prompt text, no newline added (default: stderr). */
  prompt?: (text: string) => void;
}

const PROMPT = "Enter password for private key: ";
const PROMPT_AGAIN = "Enter password for private key again: ";

const CTRL_C = 0x03;
const CTRL_D = 0x04;
const BACKSPACE = 0x08;
const DELETE = 0x7f;
const CTRL_U = 0x15;

function stderrPrompt(text: string): void {
  const data = new TextEncoder().encode(text);
  let off = 0;
  while (off < data.length) off += Deno.stderr.writeSync(data.subarray(off));
}

/**
 * Read one line from a terminal already in raw mode, without echo. Enter
 * ends it; Backspace/Delete erase one character, Ctrl-U the whole line;
 * Ctrl-C, or Ctrl-D / end of input before Enter, abort.
 *
 * @throws {UsageError} when the user aborts
 */
export async function readHiddenLine(input: Pick<TerminalInput, "read">): Promise<string> {
  const bytes: number[] = [];
  const buf = new Uint8Array(64);
  try {
    for (;;) {
      const n = await input.read(buf);
      if (n === null) throw new UsageError("password entry ended before Enter");
      for (const b of buf.subarray(0, n)) {
        if (b === 0x0d || b === 0x0a) return new TextDecoder().decode(new Uint8Array(bytes));
        if (b === CTRL_C) throw new UsageError("password entry interrupted");
        if (b === CTRL_D) {
          if (bytes.length === 0) throw new UsageError("password entry ended before Enter");
          continue;
        }
        if (b === BACKSPACE || b === DELETE) {
          // Drop one UTF-8 character: its continuation bytes, then its lead byte.
          while (bytes.length && (bytes[bytes.length - 1] & 0xc0) === 0x80) bytes.pop();
          bytes.pop();
          continue;
        }
        if (b === CTRL_U) {
          bytes.length = 0;
          continue;
        }
        bytes.push(b);
      }
    }
  } finally {
    bytes.fill(0);
    buf.fill(0);
  }
}

/**
 * Show `text` with `prompt`, then read one line from the terminal `input`
 * without echo (raw mode, restored afterwards).
 */
export async function promptHidden(
  input: Pick<TerminalInput, "read" | "setRaw">,
  prompt: (text: string) => void,
  text: string,
): Promise<string> {
  prompt(text);
  input.setRaw(true);
  try {
    return await readHiddenLine(input);
  } finally {
    input.setRaw(false);
    prompt("\n");
  }
}

/**
 * The password provider cosign users expect: `COSIGN_PASSWORD`, else an
 * echo-less prompt on stderr reading the terminal (twice when
 * `confirm`), else {@linkcode PasswordUnavailableError}.
 */
export function cosignPasswordProvider(sources: PasswordSources = {}): PasswordProvider {
  const env = sources.env ?? readEnvExact;
  const input = sources.input ?? Deno.stdin;
  const prompt = sources.prompt ?? stderrPrompt;
  return async ({ confirm }) => {
    const fromEnv = env(PASSWORD_ENV);
    if (fromEnv !== undefined) return fromEnv;
    if (!input.isTerminal()) {
      throw new PasswordUnavailableError(
        "a private key password is needed and there is no terminal to ask on",
        {
          hint: `set ${PASSWORD_ENV}`,
        },
      );
    }
    const first = await promptHidden(input, prompt, PROMPT);
    if (!confirm) return first;
    const second = await promptHidden(input, prompt, PROMPT_AGAIN);
    if (first !== second) throw new UsageError("passwords do not match", { hint: "try again" });
    return first;
  };
}

/** A provider that always answers `password` (for callers that already hold it). */
export function fixedPasswordProvider(password: string): PasswordProvider {
  return () => Promise.resolve(password);
}
