/**
 * Command-line argument parsing, the way cosign / crane users expect (pflag
 * habits): `--name value`, `--name=value`, `-x value`, `-xVALUE`, grouped
 * short booleans (`-yq`), `--bool` / `--bool=true|false` (a bare boolean
 * never takes the next argument), `--` ends options, options anywhere
 * between positionals. Unknown options are one-line usage errors with a
 * "did you mean" when a known option is within edit distance 2.
 *
 * @module
 */

import { UsageError } from "../errors/errors.ts";

/** What the parser needs to know about one option. */
export interface ArgSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** Placeholder for messages, e.g. `FILE`. */
  value?: string;
}

/** Parsed arguments. */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Levenshtein distance between `a` and `b`. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        prev[j] + 1,
        cur[j - 1] + 1,
        prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The closest of `names` to `name` within distance 2, if any. */
export function closest(name: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const n of names) {
    const d = editDistance(name, n);
    if (d < bestD) [best, bestD] = [n, d];
  }
  return best;
}

function parseBool(name: string, text: string): boolean {
  if (text === "true" || text === "1") return true;
  if (text === "false" || text === "0") return false;
  throw new UsageError(`--${name} takes true or false, not '${text}'`);
}

/**
 * Parse `args` against `specs` (by long name).
 * @throws UsageError (exit 2) for an unknown option, a missing or malformed value.
 */
export function parseArguments(
  args: readonly string[],
  specs: Record<string, ArgSpec>,
  help = "",
): ParsedArgs {
  const values: ParsedArgs["values"] = {};
  const positionals: string[] = [];
  const byShort = new Map<string, string>();
  for (const [n, s] of Object.entries(specs)) if (s.short) byShort.set(s.short, n);
  const hint = help ? { hint: `see '${help}'` } : {};
  const set = (name: string, v: string | boolean) => {
    const s = specs[name];
    if (s.multiple) values[name] = [...((values[name] as string[] | undefined) ?? []), String(v)];
    else values[name] = v;
  };
  const unknown = (flag: string): never => {
    const near = flag.startsWith("--") ? closest(flag.slice(2), Object.keys(specs)) : undefined;
    throw new UsageError(
      `unknown option ${flag}${near ? ` (did you mean --${near}?)` : ""}`,
      hint,
    );
  };
  const needValue = (name: string, i: number): string => {
    const next = args[i];
    if (next === undefined || (next.startsWith("--") && next.length > 2)) {
      throw new UsageError(`--${name} needs a value (${specs[name].value ?? "VALUE"})`, hint);
    }
    return next;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
      if (!spec) unknown(eq < 0 ? arg : arg.slice(0, eq));
      if (spec!.type === "boolean") {
        set(name, eq < 0 ? true : parseBool(name, arg.slice(eq + 1)));
      } else if (eq >= 0) {
        set(name, arg.slice(eq + 1));
      } else {
        set(name, needValue(name, ++i));
      }
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // -x, -xVALUE, -x=VALUE, -abc (booleans)
      for (let k = 1; k < arg.length; k++) {
        const name = byShort.get(arg[k]);
        if (!name) unknown(`-${arg[k]}`);
        if (specs[name!].type === "boolean") {
          set(name!, true);
          continue;
        }
        const rest = arg.slice(k + 1);
        if (rest) set(name!, rest.startsWith("=") ? rest.slice(1) : rest);
        else set(name!, needValue(name!, ++i));
        break;
      }
      continue;
    }
    positionals.push(arg);
  }
  return { values, positionals };
}
