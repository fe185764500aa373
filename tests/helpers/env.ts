/**
 * Environment variables for one command run, without touching the
 * process's environment (test files run in parallel in one process):
 * pass `envWith({...})` as a command's `env` (in its sinks) or to a library
 * function taking an `EnvReader`.
 *
 * @module
 */

import { type EnvReader, readEnvExact } from "../../lib/config/paths.ts";

/**
 * A reader that answers `vars` first (a key set to `undefined` reads as
 * unset) and this process's environment for everything else.
 */
export function envWith(vars: Record<string, string | undefined>): EnvReader {
  return (name) => Object.hasOwn(vars, name) ? vars[name] : readEnvExact(name);
}

/** Output sinks that collect what a command prints, with the environment it reads. */
export function capturingSinks(vars: Record<string, string | undefined>): {
  out: string[];
  err: string[];
  sinks: { out(t: string): void; err(t: string): void; env: EnvReader };
} {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    sinks: { out: (t) => out.push(t), err: (t) => err.push(t), env: envWith(vars) },
  };
}
