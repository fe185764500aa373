/**
 * Mutation operators for Dangerzone cosign signature lists (`cosign download
 * signature` JSON verified with the trusted key). Each operator takes a
 * valid entry and changes signed or checked content: signature, payload,
 * Rekor SET / body / log ID / integrated time / log index, the digest the
 * payload names or the one it is verified for, fields swapped between
 * entries, JSON type confusions, truncations, huge values, unicode
 * lookalikes, signatures by another key and the high-S twin of the real one.
 *
 * @module
 */

import { p256 } from "@noble/curves/nist.js";
import {
  b64,
  flipB64Char,
  flipHexChar,
  flipRandomBit,
  hex,
  lookalike,
  malleateEcdsaP256,
  sha256Hex,
  truncate,
  unb64,
  utf8,
} from "./encoding.ts";
import type { Rng } from "./prng.ts";
import type { JsonObject, SignatureSeed } from "./seeds.ts";

/** An entry of a seed list, with where it came from. */
export interface SeedEntry {
  seed: SignatureSeed;
  index: number;
  entry: JsonObject;
}

/** What an operator hands back before classification. */
export interface SignatureDraft {
  description: string;
  /** The list document: a JSON value (serialized) or raw text. */
  list: unknown;
  raw?: string;
  /** Digest verified for. */
  digest: string;
  /** The single-entry list the mutant came from (for the no-op check). */
  base: { text: string; digest: string };
  /** Set when the operator knows the change is not signed content. */
  noopReason?: string;
}

/** Context shared by the operators. */
export interface SignatureContext {
  rng: Rng;
  entries: SeedEntry[];
  /** A real Fulcio leaf certificate (PEM), for the unsigned-field operator. */
  foreignCertPem: string;
}

/** An operator: a family name, a weight, and a maker. */
export interface SignatureOperator {
  family: string;
  weight: number;
  make(ctx: SignatureContext): SignatureDraft;
}

type Path = readonly string[];

function get(o: unknown, path: Path): unknown {
  let v = o;
  for (const k of path) v = (v as JsonObject)[k];
  return v;
}

function set(o: JsonObject, path: Path, value: unknown): void {
  let v = o;
  for (const k of path.slice(0, -1)) v = v[k] as JsonObject;
  v[path[path.length - 1]] = value;
}

const B64_FIELDS: Path[] = [
  ["Base64Signature"],
  ["Payload"],
  ["Bundle", "SignedEntryTimestamp"],
  ["Bundle", "Payload", "body"],
];

const ALL_FIELDS: Path[] = [
  ...B64_FIELDS,
  ["Bundle"],
  ["Bundle", "Payload"],
  ["Bundle", "Payload", "integratedTime"],
  ["Bundle", "Payload", "logIndex"],
  ["Bundle", "Payload", "logID"],
  ["RFC3161Timestamp"],
];

const dot = (p: Path) => p.join(".");

function start(ctx: SignatureContext, digestOverride?: string) {
  const src = ctx.rng.pick(ctx.entries);
  const entry = structuredClone(src.entry);
  const base = { text: JSON.stringify([src.entry]), digest: src.seed.digest };
  const where = `${src.seed.name}[${src.index}]`;
  return { src, entry, base, where, digest: digestOverride ?? src.seed.digest };
}

function draft(
  s: ReturnType<typeof start>,
  description: string,
  extra: Partial<SignatureDraft> = {},
): SignatureDraft {
  return {
    description: `${s.where}: ${description}`,
    list: [s.entry],
    digest: s.digest,
    base: s.base,
    ...extra,
  };
}

function bitflipOp(family: string, path: Path): SignatureOperator {
  return {
    family,
    weight: 8,
    make(ctx) {
      const s = start(ctx);
      const bytes = unb64(get(s.entry, path))!;
      const { bytes: out, bit } = flipRandomBit(bytes, ctx.rng);
      set(s.entry, path, b64(out));
      return draft(s, `bit ${bit} of ${dot(path)} flipped`);
    },
  };
}

/** The Rekor entry body of an entry, parsed. */
function bodyOf(entry: JsonObject): JsonObject {
  return JSON.parse(utf8.decode(unb64(get(entry, ["Bundle", "Payload", "body"]))!));
}

function setBody(entry: JsonObject, body: unknown): void {
  set(entry, ["Bundle", "Payload", "body"], b64(utf8.encode(JSON.stringify(body))));
}

/** The simple-signing payload text of an entry. */
function payloadText(entry: JsonObject): string {
  return utf8.decode(unb64(entry.Payload)!);
}

/** A deterministic P-256 key derived from the campaign's PRNG. */
function foreignKey(rng: Rng): { secret: Uint8Array; publicPem: string } {
  const seed = new Uint8Array(48);
  for (let i = 0; i < seed.length; i++) seed[i] = rng.int(256);
  const secret = p256.utils.randomSecretKey(seed);
  const pub = p256.getPublicKey(secret, false);
  // SubjectPublicKeyInfo for an uncompressed P-256 point: fixed 26-byte prefix.
  const prefix = "3059301306072a8648ce3d020106082a8648ce3d030107034200";
  const spki = new Uint8Array([...hexToBytes(prefix), ...pub]);
  const body = b64(spki).replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n");
  return { secret, publicPem: `-----BEGIN PUBLIC KEY-----\n${body}-----END PUBLIC KEY-----\n` };
}

function hexToBytes(h: string): Uint8Array {
  return new Uint8Array(h.match(/../g)!.map((x) => parseInt(x, 16)));
}

/** A confused value of another JSON type than `v`. */
export function confuse(v: unknown, rng: Rng): { value: unknown; how: string } {
  const options: [unknown, string][] = [
    [null, "null"],
    [true, "true"],
    [0, "0"],
    [-1, "-1"],
    [1.5, "1.5"],
    ["", "empty string"],
    ["null", "the string 'null'"],
    [[], "[]"],
    [{}, "{}"],
  ];
  if (typeof v === "number") options.push([String(v), "number as string"]);
  if (typeof v === "string") {
    options.push([[v], "string wrapped in a list"], [{ value: v }, "string wrapped in an object"]);
    if (/^[0-9]+$/.test(v)) options.push([Number(v), "numeric string as number"]);
  }
  if (typeof v === "object" && v !== null) {
    options.push([JSON.stringify(v), "object as JSON string"], [[v], "object wrapped in a list"]);
  }
  const candidates = options.filter(([o]) => JSON.stringify(o) !== JSON.stringify(v));
  const [value, how] = rng.pick(candidates);
  return { value, how };
}

/** Signature-list operators. */
export const SIGNATURE_OPERATORS: SignatureOperator[] = [
  bitflipOp("sig.bitflip.signature", ["Base64Signature"]),
  bitflipOp("sig.bitflip.payload", ["Payload"]),
  bitflipOp("sig.bitflip.set", ["Bundle", "SignedEntryTimestamp"]),
  bitflipOp("sig.bitflip.rekor-body", ["Bundle", "Payload", "body"]),
  {
    family: "sig.log-id",
    weight: 6,
    make(ctx) {
      const s = start(ctx);
      const id = get(s.entry, ["Bundle", "Payload", "logID"]) as string;
      const mode = ctx.rng.int(4);
      let next: string, how: string;
      if (mode === 0) {
        const { bytes, bit } = flipRandomBit(hexToBytes(id), ctx.rng);
        [next, how] = [hex(bytes), `bit ${bit} flipped`];
      } else if (mode === 1) {
        [next, how] = [flipHexChar(id, ctx.rng), "one hex digit changed"];
      } else if (mode === 2) {
        [next, how] = [sha256Hex(`log ${ctx.rng.int(1e9)}`), "another log's ID"];
      } else {
        [next, how] = [id.toUpperCase(), "upper case hex"];
      }
      set(s.entry, ["Bundle", "Payload", "logID"], next);
      return draft(s, `Bundle.Payload.logID: ${how}`);
    },
  },
  {
    family: "sig.integrated-time",
    weight: 6,
    make(ctx) {
      const s = start(ctx);
      const p: Path = ["Bundle", "Payload", "integratedTime"];
      const t = get(s.entry, p) as number;
      const other = ctx.rng.pick(ctx.entries.filter((e) => get(e.entry, p) !== t));
      const choices: [number, string][] = [
        [t + 1, "+1 s"],
        [t - 1, "-1 s"],
        [t + 86_400, "+1 day"],
        [t - 365 * 86_400, "-1 year"],
        [0, "0"],
        [get(other.entry, p) as number, "another entry's time"],
        [1_500_000_000 + ctx.rng.int(300_000_000), "random time"],
      ];
      const [v, how] = ctx.rng.pick(choices);
      set(s.entry, p, v);
      return draft(s, `integratedTime ${t} → ${v} (${how})`);
    },
  },
  {
    family: "sig.log-index",
    weight: 6,
    make(ctx) {
      const s = start(ctx);
      const p: Path = ["Bundle", "Payload", "logIndex"];
      const i = get(s.entry, p) as number;
      const other = ctx.rng.pick(ctx.entries.filter((e) => get(e.entry, p) !== i));
      const choices: [number, string][] = [
        [i + 1, "+1"],
        [i - 1, "-1"],
        [0, "0"],
        [get(other.entry, p) as number, "another entry's index"],
        [ctx.rng.int(200_000_000), "random index"],
      ];
      const [v, how] = ctx.rng.pick(choices);
      set(s.entry, p, v);
      return draft(s, `logIndex ${i} → ${v} (${how})`);
    },
  },
  {
    family: "sig.digest.payload",
    weight: 6,
    make(ctx) {
      const s = start(ctx);
      const text = payloadText(s.entry);
      const m = /"docker-manifest-digest":"(sha256:([0-9a-f]{64}))"/.exec(text);
      const digest = m![1];
      const other = ctx.rng.pick(ctx.entries.filter((e) => e.seed.digest !== digest)).seed.digest;
      const choices: [string, string][] = [
        [`sha256:${flipHexChar(m![2], ctx.rng)}`, "one hex digit changed"],
        [other, "another image's digest"],
        [digest.toUpperCase(), "upper case"],
        [m![2], "without 'sha256:'"],
        [`sha512:${m![2]}`, "sha512 prefix"],
        [`${digest} `, "trailing space"],
        [`${digest}\u0000`, "trailing NUL"],
      ];
      const [v, how] = ctx.rng.pick(choices);
      // Also verify against the new value when it is a well-formed digest.
      const target = /^sha256:[0-9a-f]{64}$/.test(v) && ctx.rng.chance(0.5) ? v : s.digest;
      s.entry.Payload = b64(utf8.encode(text.replace(digest, v)));
      s.digest = target;
      return draft(s, `payload docker-manifest-digest → ${how}; verified for ${target}`);
    },
  },
  {
    family: "sig.digest.expected",
    weight: 4,
    make(ctx) {
      const s = start(ctx);
      const others = ctx.entries.filter((e) => e.seed.digest !== s.digest);
      const v = ctx.rng.chance(0.5)
        ? ctx.rng.pick(others).seed.digest
        : `sha256:${flipHexChar(s.digest.slice(7), ctx.rng)}`;
      s.digest = v;
      return draft(s, `unchanged entry verified for ${v}`);
    },
  },
  {
    family: "sig.rekor-body-field",
    weight: 8,
    make(ctx) {
      const s = start(ctx);
      const body = bodyOf(s.entry) as JsonObject & { spec: JsonObject };
      const spec = body.spec as {
        data: { hash: { algorithm: string; value: string } };
        signature: { content: string; publicKey: { content: string } };
      };
      const edits: [string, () => void][] = [
        ["spec.data.hash.value digit", () => {
          spec.data.hash.value = flipHexChar(spec.data.hash.value, ctx.rng);
        }],
        ["spec.data.hash.algorithm sha512", () => {
          spec.data.hash.algorithm = "sha512";
        }],
        ["spec.signature.content of another entry", () => {
          const o = ctx.rng.pick(ctx.entries.filter((e) => e.entry !== s.src.entry));
          spec.signature.content = String(o.entry.Base64Signature);
        }],
        ["spec.signature.content char", () => {
          spec.signature.content = flipB64Char(spec.signature.content, ctx.rng).text;
        }],
        ["spec.signature.publicKey → another key", () => {
          spec.signature.publicKey.content = b64(utf8.encode(foreignKey(ctx.rng).publicPem));
        }],
        ["kind rekord", () => {
          body.kind = "rekord";
        }],
        ["kind intoto", () => {
          body.kind = "intoto";
        }],
        ["apiVersion 0.0.2", () => {
          body.apiVersion = "0.0.2";
        }],
        ["spec removed", () => {
          delete (body as JsonObject).spec;
        }],
        ["spec.data removed", () => {
          delete (spec as JsonObject).data;
        }],
      ];
      const [how, edit] = ctx.rng.pick(edits);
      edit();
      setBody(s.entry, body);
      return draft(s, `Rekor body: ${how}`);
    },
  },
  {
    family: "sig.swap",
    weight: 8,
    make(ctx) {
      const s = start(ctx);
      const field = ctx.rng.pick<Path>([
        ["Base64Signature"],
        ["Payload"],
        ["Bundle"],
        ["Bundle", "SignedEntryTimestamp"],
        ["Bundle", "Payload", "body"],
        ["Bundle", "Payload", "integratedTime"],
        ["Bundle", "Payload", "logIndex"],
      ]);
      const donors = ctx.entries.filter((e) =>
        JSON.stringify(get(e.entry, field)) !== JSON.stringify(get(s.entry, field))
      );
      const donor = ctx.rng.pick(donors);
      set(s.entry, field, structuredClone(get(donor.entry, field)));
      if (ctx.rng.chance(0.3)) s.digest = donor.seed.digest;
      return draft(
        s,
        `${dot(field)} taken from ${donor.seed.name}[${donor.index}]; verified for ${s.digest}`,
      );
    },
  },
  {
    family: "sig.type-confusion",
    weight: 10,
    make(ctx) {
      const s = start(ctx);
      const path = ctx.rng.pick(ALL_FIELDS);
      const { value, how } = confuse(get(s.entry, path), ctx.rng);
      set(s.entry, path, value);
      return draft(s, `${dot(path)} → ${how}`);
    },
  },
  {
    family: "sig.truncation",
    weight: 8,
    make(ctx) {
      const s = start(ctx);
      const mode = ctx.rng.int(3);
      if (mode === 2) {
        const text = JSON.stringify([s.entry]);
        const keep = ctx.rng.int(text.length);
        return draft(s, `document cut to ${keep}/${text.length} chars`, {
          raw: text.slice(0, keep),
        });
      }
      const path = ctx.rng.pick(B64_FIELDS);
      const value = get(s.entry, path) as string;
      if (mode === 0) {
        const { bytes, how } = truncate(unb64(value)!, ctx.rng);
        set(s.entry, path, b64(bytes));
        return draft(s, `${dot(path)} decoded bytes ${how}`);
      }
      const keep = ctx.rng.int(value.length);
      set(s.entry, path, value.slice(0, keep));
      return draft(s, `${dot(path)} text cut to ${keep}/${value.length} chars`);
    },
  },
  {
    family: "sig.huge",
    weight: 6,
    make(ctx) {
      const s = start(ctx);
      const numbers: [unknown, string][] = [
        [1e308, "1e308"],
        [2 ** 63, "2^63"],
        [2 ** 64, "2^64"],
        [2 ** 53, "2^53"],
        [-1, "-1"],
        [1e-300, "1e-300"],
        [-0.5, "-0.5"],
      ];
      const mode = ctx.rng.int(6);
      if (mode <= 1) {
        const path: Path = ["Bundle", "Payload", mode === 0 ? "integratedTime" : "logIndex"];
        if (ctx.rng.chance(0.25)) {
          // Not expressible with JSON.stringify: number literals a parser maps to ±Infinity.
          const lit = ctx.rng.pick(["1e999", "-1e999", "123456789012345678901234567890"]);
          set(s.entry, path, "__HUGE__");
          const raw = JSON.stringify([s.entry]).replace('"__HUGE__"', lit);
          return draft(s, `${dot(path)} → literal ${lit}`, { raw });
        }
        const [v, how] = ctx.rng.pick(numbers);
        set(s.entry, path, v);
        return draft(s, `${dot(path)} → ${how}`);
      }
      const size = ctx.rng.pick([64 * 1024, 1024 * 1024, 3 * 1024 * 1024]);
      if (mode === 2) {
        const path = ctx.rng.pick(B64_FIELDS);
        set(s.entry, path, "QUFB".repeat(size / 4));
        return draft(s, `${dot(path)} → ${size} chars of valid base64`);
      }
      if (mode === 3) {
        set(s.entry, ["Bundle", "Payload", "logID"], "a".repeat(size));
        return draft(s, `logID → ${size} hex chars`);
      }
      if (mode === 4) {
        const depth = ctx.rng.pick([1_000, 100_000]);
        const nested = "[".repeat(depth) + "]".repeat(depth);
        const path = ctx.rng.pick<Path>([["Payload"], ["Bundle", "Payload", "body"]]);
        set(s.entry, path, b64(utf8.encode(nested)));
        return draft(s, `${dot(path)} → JSON nested ${depth} deep`);
      }
      const text = payloadText(s.entry).replace(
        '"optional":null',
        `"optional":{"x":"${"y".repeat(size)}"}`,
      );
      s.entry.Payload = b64(utf8.encode(text));
      return draft(s, `payload grown by a ${size}-char optional field`);
    },
  },
  {
    family: "sig.base64-text",
    weight: 6,
    make(ctx) {
      const s = start(ctx);
      const path = ctx.rng.pick(B64_FIELDS);
      const value = get(s.entry, path) as string;
      const mode = ctx.rng.int(4);
      let next: string, how: string;
      if (mode === 0) {
        const r = flipB64Char(value, ctx.rng);
        [next, how] = [r.text, `char ${r.at} changed`];
      } else if (mode === 1) {
        const at = ctx.rng.int(value.length);
        [next, how] = [value.slice(0, at) + "\n" + value.slice(at), `newline at ${at}`];
      } else if (mode === 2) {
        [next, how] = [value.replace(/\+/g, "-").replace(/\//g, "_"), "URL-safe alphabet"];
      } else {
        [next, how] = [value.replace(/=+$/, ""), "padding removed"];
      }
      set(s.entry, path, next);
      return draft(s, `${dot(path)} text: ${how}`);
    },
  },
  {
    family: "sig.unicode",
    weight: 5,
    make(ctx) {
      const s = start(ctx);
      const text = payloadText(s.entry);
      const doc = JSON.parse(text);
      const fields: [string, string][] = [
        ["docker-reference", doc.critical.identity["docker-reference"]],
        ["type", doc.critical.type],
        ["docker-manifest-digest", doc.critical.image["docker-manifest-digest"]],
      ];
      const [name, value] = ctx.rng.pick(fields);
      const { text: v, how } = lookalike(value, ctx.rng);
      s.entry.Payload = b64(utf8.encode(text.replace(value, v)));
      return draft(s, `payload ${name}: ${how}`);
    },
  },
  {
    family: "sig.foreign-signature",
    weight: 6,
    make(ctx) {
      const s = start(ctx);
      const mode = ctx.rng.int(4);
      const payload = unb64(s.entry.Payload)!;
      let sig: Uint8Array, how: string;
      let pem: string | undefined;
      if (mode <= 1) {
        const key = foreignKey(ctx.rng);
        sig = p256.sign(payload, key.secret, { prehash: true, format: "der" });
        pem = key.publicPem;
        how = "signed by another P-256 key";
      } else {
        sig = malleateEcdsaP256(unb64(s.entry.Base64Signature)!);
        how = "high-S twin of the real signature (valid ECDSA)";
      }
      s.entry.Base64Signature = b64(sig);
      if (mode % 2 === 1) {
        const body = bodyOf(s.entry) as {
          spec: { signature: { content: string; publicKey: { content: string } } };
        };
        body.spec.signature.content = b64(sig);
        if (pem) body.spec.signature.publicKey.content = b64(utf8.encode(pem));
        setBody(s.entry, body);
        how += ", Rekor body rewritten to match";
      }
      return draft(s, how);
    },
  },
  {
    family: "sig.rfc3161",
    weight: 3,
    make(ctx) {
      const s = start(ctx);
      const n = ctx.rng.pick([1, 16, 300]);
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = ctx.rng.int(256);
      if (ctx.rng.chance(0.5)) bytes[0] = 0x30;
      s.entry.RFC3161Timestamp = { SignedRFC3161Timestamp: b64(bytes) };
      return draft(s, `RFC3161Timestamp → ${n} bytes of garbage`);
    },
  },
  {
    family: "sig.list-shape",
    weight: 4,
    make(ctx) {
      const s = start(ctx);
      const other = ctx.rng.pick(ctx.entries.filter((e) => e.seed.digest !== s.digest));
      const bad = structuredClone(s.src.entry);
      bad.Base64Signature = b64(flipRandomBit(unb64(bad.Base64Signature)!, ctx.rng).bytes);
      const shapes: [unknown, string][] = [
        [[], "empty list"],
        [s.entry, "the entry itself, not in a list"],
        [{ signatures: [s.entry] }, "list wrapped in an object"],
        [[[s.entry]], "list nested in a list"],
        [[null], "[null]"],
        [[s.entry, bad], "valid entry followed by a bit-flipped one"],
        [[bad, s.entry], "bit-flipped entry followed by a valid one"],
        [[other.entry], `a valid entry of ${other.seed.name}`],
        [[s.entry, other.entry], `valid entry plus a valid entry of ${other.seed.name}`],
        [null, "null"],
      ];
      const [list, how] = ctx.rng.pick(shapes);
      return draft(s, `list: ${how}`, { list });
    },
  },
  {
    family: "sig.unsigned-field",
    weight: 2,
    make(ctx) {
      const s = start(ctx);
      const choices: [string, () => void][] = [
        ["Cert → a real Fulcio certificate (PEM)", () => {
          s.entry.Cert = ctx.foreignCertPem;
        }],
        ["Chain → [a real Fulcio certificate]", () => {
          s.entry.Chain = [ctx.foreignCertPem];
        }],
        ["Chain → []", () => {
          s.entry.Chain = [];
        }],
      ];
      const [how, edit] = ctx.rng.pick(choices);
      edit();
      return draft(s, how, {
        noopReason: "Cert and Chain are not signed and not used when verifying with a trusted key",
      });
    },
  },
];
