/**
 * JSON as Python's `json.dump(obj, f)` writes it with its defaults
 * (`separators=(", ", ": ")`, `ensure_ascii=True`, keys in insertion
 * order): the bytes Dangerzone's `prepare-archive` writes for
 * `dangerzone.json` and the reduced `index.json`.
 *
 * @module
 */

function str(s: string): string {
  // JSON.stringify escapes quotes, backslashes and control characters as
  // Python does; ensure_ascii also escapes every non-ASCII UTF-16 unit.
  return JSON.stringify(s).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** `json.dumps(value)` for JSON values (no NaN, no undefined inside arrays). */
export function pythonJson(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new RangeError(`cannot write ${value} as JSON`);
      return JSON.stringify(value);
    case "string":
      return str(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
      const parts = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${str(k)}: ${pythonJson(v)}`);
      return `{${parts.join(", ")}}`;
    }
    default:
      throw new TypeError(`cannot write a ${typeof value} as JSON`);
  }
}
