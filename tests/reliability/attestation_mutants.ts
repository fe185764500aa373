/**
 * Mutation operators for slsa-github-generator attestations in a `cosign
 * save` layout: the DSSE envelope (signature, payload, payload type, the
 * in-toto statement's subject / builder / source), the Fulcio certificate,
 * the Rekor bundle annotation (SET, body, log ID, time, index), fields
 * swapped between the two real attestations, JSON type confusions in the
 * envelope / bundle / layer, truncations, huge values, lookalike
 * expectations, and a layer whose bytes are not what its digest names.
 *
 * @module
 */

import {
  b64,
  flipB64Char,
  flipHexChar,
  flipRandomBit,
  lookalike,
  malleateEcdsaP256,
  sha256Hex,
  truncate,
  unb64,
  utf8,
} from "./encoding.ts";
import type { Rng } from "./prng.ts";
import type { AttestationSeed, Expectations, JsonObject } from "./seeds.ts";
import { confuse } from "./signature_mutants.ts";

/** Annotation keys. */
export const ANN = {
  signature: "dev.cosignproject.cosign/signature",
  bundle: "dev.sigstore.cosign/bundle",
  certificate: "dev.sigstore.cosign/certificate",
  chain: "dev.sigstore.cosign/chain",
  rfc3161: "dev.sigstore.cosign/rfc3161timestamp",
} as const;

/** A mutable attestation layout under construction. */
export interface AttestationDraft {
  description: string;
  /** The seed the attestation came from. */
  seed: AttestationSeed;
  /** The seed whose image the layout resolves to. */
  image: AttestationSeed;
  /** DSSE envelope bytes. */
  envelope: Uint8Array;
  /** The `.att` manifest's first layer. */
  layer: JsonObject;
  /** Keep `layer.digest` / `size` as they are instead of naming the envelope. */
  keepAddress?: boolean;
  /** Store the envelope under this hex name instead of its own digest. */
  storeAs?: string;
  /** Edit the whole manifest JSON after the layer is in place. */
  manifestEdit?: (m: JsonObject) => unknown;
  /** More blobs to store (hex name → bytes). */
  extraBlobs?: { hex: string; bytes: Uint8Array }[];
  /** Replace the manifest bytes entirely. */
  manifestRaw?: Uint8Array;
  expect: Expectations;
  noopReason?: string;
  /**
   * Classify as a no-op even though the view changed, with this reason
   * (only for "another valid attestation is still there" cases).
   */
  forcedNoop?: string;
}

/** Context shared by the operators. */
export interface AttestationContext {
  rng: Rng;
  seeds: AttestationSeed[];
}

/** An operator. */
export interface AttestationOperator {
  family: string;
  weight: number;
  make(ctx: AttestationContext): AttestationDraft;
}

function start(ctx: AttestationContext, description = ""): AttestationDraft {
  const seed = ctx.rng.pick(ctx.seeds);
  return {
    description,
    seed,
    image: seed,
    envelope: seed.envelope.slice(),
    layer: structuredClone(seed.layer),
    expect: { ...seed.expect },
  };
}

function other(ctx: AttestationContext, seed: AttestationSeed): AttestationSeed {
  return ctx.seeds.find((s) => s !== seed) ?? seed;
}

function say(d: AttestationDraft, what: string): AttestationDraft {
  d.description = `${d.seed.version}: ${what}`;
  return d;
}

function annotations(d: AttestationDraft): Record<string, unknown> {
  return d.layer.annotations as Record<string, unknown>;
}

/** Parse, edit and re-serialize the DSSE envelope JSON. */
function editEnvelope(d: AttestationDraft, f: (env: JsonObject) => void): void {
  const env = JSON.parse(utf8.decode(d.envelope)) as JsonObject;
  f(env);
  d.envelope = utf8.encode(JSON.stringify(env));
}

function firstSig(env: JsonObject): JsonObject {
  return (env.signatures as JsonObject[])[0];
}

/** Parse, edit and re-serialize the in-toto statement inside the envelope. */
function editStatement(d: AttestationDraft, f: (st: JsonObject) => void): void {
  editEnvelope(d, (env) => {
    const st = JSON.parse(utf8.decode(unb64(env.payload)!)) as JsonObject;
    f(st);
    env.payload = b64(utf8.encode(JSON.stringify(st)));
  });
}

/** Parse, edit and re-serialize the Rekor bundle annotation. */
function editBundle(d: AttestationDraft, f: (b: JsonObject) => void): void {
  const a = annotations(d);
  const b = JSON.parse(String(a[ANN.bundle])) as JsonObject;
  f(b);
  a[ANN.bundle] = JSON.stringify(b);
}

function bundlePayload(b: JsonObject): JsonObject {
  return b.Payload as JsonObject;
}

/** Parse, edit and re-encode the Rekor entry body. */
function editBody(d: AttestationDraft, f: (body: JsonObject) => void): void {
  editBundle(d, (b) => {
    const p = bundlePayload(b);
    const body = JSON.parse(utf8.decode(unb64(p.body)!)) as JsonObject;
    f(body);
    p.body = b64(utf8.encode(JSON.stringify(body)));
  });
}

/** DER of the certificate annotation. */
export function certDer(pem: string): Uint8Array {
  const m = /-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=\n]+)-----END CERTIFICATE-----/.exec(pem);
  return unb64(m![1].replace(/\n/g, ""))!;
}

/** PEM text of a DER certificate, as cosign writes it. */
export function toPem(der: Uint8Array): string {
  const body = b64(der).replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n");
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}

function editCert(d: AttestationDraft, f: (der: Uint8Array) => Uint8Array): void {
  const a = annotations(d);
  a[ANN.certificate] = toPem(f(certDer(String(a[ANN.certificate]))));
}

/** Every string leaf of a JSON value, with its path. */
function stringLeaves(v: unknown, path: string[] = []): [string[], string][] {
  if (typeof v === "string") return [[path, v]];
  if (Array.isArray(v)) return v.flatMap((x, i) => stringLeaves(x, [...path, String(i)]));
  if (typeof v === "object" && v !== null) {
    return Object.entries(v).flatMap(([k, x]) => stringLeaves(x, [...path, k]));
  }
  return [];
}

function setPath(o: unknown, path: string[], value: unknown): void {
  let v = o as JsonObject;
  for (const k of path.slice(0, -1)) v = v[k] as JsonObject;
  v[path[path.length - 1]] = value;
}

function getPath(o: unknown, path: readonly string[]): unknown {
  let v = o;
  for (const k of path) v = (v as JsonObject)[k];
  return v;
}

/** A different string of the same shape (hex digit, base64 char, or lookalike). */
function alterString(s: string, rng: Rng): { text: string; how: string } {
  if (/^[0-9a-f]{16,}$/.test(s)) return { text: flipHexChar(s, rng), how: "hex digit changed" };
  if (/^[A-Za-z0-9+/]{16,}={0,2}$/.test(s)) {
    const bytes = unb64(s);
    if (bytes && bytes.length > 0) {
      const r = flipRandomBit(bytes, rng);
      return { text: b64(r.bytes), how: `decoded bit ${r.bit} flipped` };
    }
    return { text: flipB64Char(s, rng).text, how: "base64 char changed" };
  }
  if (s === "") return { text: "x", how: "empty → 'x'" };
  return lookalike(s, rng);
}

const ENVELOPE_PATHS: string[][] = [
  ["payloadType"],
  ["payload"],
  ["signatures"],
  ["signatures", "0"],
  ["signatures", "0", "sig"],
];

const BUNDLE_PATHS: string[][] = [
  ["SignedEntryTimestamp"],
  ["Payload"],
  ["Payload", "body"],
  ["Payload", "integratedTime"],
  ["Payload", "logIndex"],
  ["Payload", "logID"],
];

function bitflipEnvelope(family: string, what: "sig" | "payload"): AttestationOperator {
  return {
    family,
    weight: 5,
    make(ctx) {
      const d = start(ctx);
      let bit = 0;
      editEnvelope(d, (env) => {
        const holder = what === "sig" ? firstSig(env) : env;
        const r = flipRandomBit(unb64(holder[what])!, ctx.rng);
        bit = r.bit;
        holder[what] = b64(r.bytes);
      });
      return say(d, `envelope ${what}: bit ${bit} flipped`);
    },
  };
}

function bitflipBundle(family: string, path: string[]): AttestationOperator {
  return {
    family,
    weight: 4,
    make(ctx) {
      const d = start(ctx);
      let bit = 0;
      editBundle(d, (b) => {
        const r = flipRandomBit(unb64(getPath(b, path))!, ctx.rng);
        bit = r.bit;
        setPath(b, path, b64(r.bytes));
      });
      return say(d, `bundle ${path.join(".")}: bit ${bit} flipped`);
    },
  };
}

/** Attestation operators. */
export const ATTESTATION_OPERATORS: AttestationOperator[] = [
  bitflipEnvelope("att.bitflip.dsse-signature", "sig"),
  bitflipEnvelope("att.bitflip.payload", "payload"),
  {
    family: "att.malleated-signature",
    weight: 2,
    make(ctx) {
      const d = start(ctx);
      editEnvelope(d, (env) => {
        const s = firstSig(env);
        s.sig = b64(malleateEcdsaP256(unb64(s.sig)!));
      });
      return say(d, "DSSE signature replaced by its high-S twin (valid ECDSA)");
    },
  },
  {
    family: "att.payload-type",
    weight: 2,
    make(ctx) {
      const d = start(ctx);
      const v = ctx.rng.pick([
        "application/json",
        "application/vnd.in-toto+json ",
        "application/vnd.in-toto+json; charset=utf-8",
        "application/vnd.in-toto.v1+json",
        lookalike("application/vnd.in-toto+json", ctx.rng).text,
      ]);
      editEnvelope(d, (env) => env.payloadType = v);
      return say(d, `payloadType → ${JSON.stringify(v)}`);
    },
  },
  {
    family: "att.statement",
    weight: 6,
    make(ctx) {
      const d = start(ctx);
      const o = other(ctx, d.seed);
      const edits: [string, (st: JsonObject) => void][] = [
        ["subject digest: one hex digit", (st) => {
          const dg = (st.subject as JsonObject[])[0].digest as JsonObject;
          dg.sha256 = flipHexChar(String(dg.sha256), ctx.rng);
        }],
        ["subject digest: the other image's", (st) => {
          ((st.subject as JsonObject[])[0].digest as JsonObject).sha256 = o.digest.slice(7);
        }],
        ["subject removed", (st) => st.subject = []],
        ["predicateType → SLSA v1", (st) => st.predicateType = "https://slsa.dev/provenance/v1"],
        ["builder id → lookalike", (st) => {
          const b = (st.predicate as JsonObject).builder as JsonObject;
          b.id = lookalike(String(b.id), ctx.rng).text;
        }],
        ["builder id → other generator version", (st) => {
          const b = (st.predicate as JsonObject).builder as JsonObject;
          b.id = String(b.id).replace(/@refs\/tags\/.*$/, "@refs/tags/v9.9.9");
        }],
        ["source repository → lookalike", (st) => {
          const cs = getPath(st, ["predicate", "invocation", "configSource"]) as JsonObject;
          cs.uri = String(cs.uri).replace(
            d.seed.expect.repository,
            lookalike(d.seed.expect.repository, ctx.rng).text,
          );
        }],
        ["source commit: one hex digit", (st) => {
          const dg = getPath(st, [
            "predicate",
            "invocation",
            "configSource",
            "digest",
          ]) as JsonObject;
          dg.sha1 = flipHexChar(String(dg.sha1), ctx.rng);
        }],
        ["workflow entryPoint changed", (st) => {
          const cs = getPath(st, ["predicate", "invocation", "configSource"]) as JsonObject;
          cs.entryPoint = ".github/workflows/release.yml";
        }],
        ["random string leaf altered", (st) => {
          const [path, v] = ctx.rng.pick(stringLeaves(st));
          setPath(st, path, alterString(v, ctx.rng).text);
        }],
      ];
      const [how, edit] = ctx.rng.pick(edits);
      editStatement(d, edit);
      return say(d, `statement: ${how}`);
    },
  },
  {
    family: "att.bitflip.certificate",
    weight: 5,
    make(ctx) {
      const d = start(ctx);
      let bit = 0;
      editCert(d, (der) => {
        const r = flipRandomBit(der, ctx.rng);
        bit = r.bit;
        return r.bytes;
      });
      return say(d, `certificate DER bit ${bit} flipped`);
    },
  },
  {
    family: "att.certificate-identity",
    weight: 3,
    make(ctx) {
      const d = start(ctx);
      const needles = [
        "slsa-framework/example-package",
        "slsa-github-generator",
        "generator_container_slsa3",
        "token.actions.githubusercontent.com",
        "refs/heads/main",
        "refs/tags/",
        "workflow_dispatch",
      ];
      let how = "";
      editCert(d, (der) => {
        const text = new TextDecoder("latin1").decode(der);
        const found = needles.filter((n) => text.includes(n));
        const needle = ctx.rng.pick(found);
        const positions: number[] = [];
        for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
          positions.push(i);
        }
        const at = ctx.rng.pick(positions) + ctx.rng.int(needle.length);
        const out = der.slice();
        const c = out[at];
        out[at] = c === 0x2d
          ? 0x5f
          : (c >= 0x61 && c <= 0x7a)
          ? ((c - 0x61 + 1) % 26) + 0x61
          : 0x61;
        how = `'${needle}' occurrence changed at byte ${at}`;
        return out;
      });
      return say(d, `certificate identity text: ${how}`);
    },
  },
  bitflipBundle("att.bitflip.set", ["SignedEntryTimestamp"]),
  bitflipBundle("att.bitflip.rekor-body", ["Payload", "body"]),
  {
    family: "att.rekor-body-field",
    weight: 5,
    make(ctx) {
      const d = start(ctx);
      let how = "";
      editBody(d, (body) => {
        const mode = ctx.rng.int(4);
        if (mode === 0) {
          body.kind = ctx.rng.pick(
            ["hashedrekord", "dsse", "intoto", "rekord"].filter((k) => k !== body.kind),
          );
          how = `kind → ${body.kind}`;
        } else if (mode === 1) {
          body.apiVersion = ctx.rng.pick(["0.0.2", "0.0.1 ", "1.0.0"]);
          how = `apiVersion → ${body.apiVersion}`;
        } else {
          const [path, v] = ctx.rng.pick(stringLeaves(body.spec, ["spec"]));
          const r = alterString(v, ctx.rng);
          setPath(body, path, r.text);
          how = `${path.join(".")}: ${r.how}`;
        }
      });
      return say(d, `Rekor body: ${how}`);
    },
  },
  {
    family: "att.log-id",
    weight: 3,
    make(ctx) {
      const d = start(ctx);
      let how = "";
      editBundle(d, (b) => {
        const p = bundlePayload(b);
        const id = String(p.logID);
        const mode = ctx.rng.int(3);
        p.logID = mode === 0
          ? flipHexChar(id, ctx.rng)
          : mode === 1
          ? sha256Hex(`log ${ctx.rng.int(1e9)}`)
          : id.toUpperCase();
        how = ["one hex digit", "another log's ID", "upper case"][mode];
      });
      return say(d, `bundle logID: ${how}`);
    },
  },
  {
    family: "att.integrated-time",
    weight: 3,
    make(ctx) {
      const d = start(ctx);
      const o = other(ctx, d.seed);
      const ot = JSON.parse(String((o.layer.annotations as JsonObject)[ANN.bundle])).Payload
        .integratedTime as number;
      let how = "";
      editBundle(d, (b) => {
        const p = bundlePayload(b);
        const t = p.integratedTime as number;
        const [v, h] = ctx.rng.pick<[number, string]>([
          [t + 1, "+1 s"],
          [t - 1, "-1 s"],
          [t + 600, "+10 min (after the certificate expired)"],
          [t - 600, "-10 min (before the certificate was issued)"],
          [ot, "the other attestation's time"],
          [0, "0"],
        ]);
        p.integratedTime = v;
        how = h;
      });
      return say(d, `bundle integratedTime ${how}`);
    },
  },
  {
    family: "att.log-index",
    weight: 3,
    make(ctx) {
      const d = start(ctx);
      let how = "";
      editBundle(d, (b) => {
        const p = bundlePayload(b);
        const i = p.logIndex as number;
        const [v, h] = ctx.rng.pick<[number, string]>([
          [i + 1, "+1"],
          [i - 1, "-1"],
          [0, "0"],
          [ctx.rng.int(100_000_000), "random"],
        ]);
        p.logIndex = v;
        how = h;
      });
      return say(d, `bundle logIndex ${how}`);
    },
  },
  {
    family: "att.swap",
    weight: 5,
    make(ctx) {
      const d = start(ctx);
      const o = other(ctx, d.seed);
      const oa = o.layer.annotations as JsonObject;
      const oenv = JSON.parse(utf8.decode(o.envelope)) as JsonObject;
      const obundle = JSON.parse(String(oa[ANN.bundle])) as JsonObject;
      const swaps: [string, () => void][] = [
        ["certificate", () => annotations(d)[ANN.certificate] = oa[ANN.certificate]],
        ["bundle annotation", () => annotations(d)[ANN.bundle] = oa[ANN.bundle]],
        ["whole envelope", () => d.envelope = o.envelope.slice()],
        ["envelope payload", () => editEnvelope(d, (e) => e.payload = oenv.payload)],
        ["envelope signatures", () => editEnvelope(d, (e) => e.signatures = oenv.signatures)],
        [
          "bundle SET",
          () => editBundle(d, (b) => b.SignedEntryTimestamp = obundle.SignedEntryTimestamp),
        ],
        [
          "bundle body",
          () => editBundle(d, (b) => bundlePayload(b).body = bundlePayload(obundle).body),
        ],
        ["bundle integratedTime + logIndex + logID", () =>
          editBundle(d, (b) => {
            const p = bundlePayload(b), q = bundlePayload(obundle);
            Object.assign(p, {
              integratedTime: q.integratedTime,
              logIndex: q.logIndex,
              logID: q.logID,
            });
          })],
        ["image (attestation moved onto the other image)", () => d.image = o],
      ];
      const [how, f] = ctx.rng.pick(swaps);
      f();
      return say(d, `${how} from ${o.version}`);
    },
  },
  {
    family: "att.type-confusion",
    weight: 6,
    make(ctx) {
      const d = start(ctx);
      const where = ctx.rng.int(4);
      if (where === 0) {
        const path = ctx.rng.pick(ENVELOPE_PATHS);
        let how = "";
        editEnvelope(d, (env) => {
          const r = confuse(getPath(env, path), ctx.rng);
          setPath(env, path, r.value);
          how = r.how;
        });
        return say(d, `envelope ${path.join(".")} → ${how}`);
      }
      if (where === 1) {
        const path = ctx.rng.pick(BUNDLE_PATHS);
        let how = "";
        editBundle(d, (b) => {
          const r = confuse(getPath(b, path), ctx.rng);
          setPath(b, path, r.value);
          how = r.how;
        });
        return say(d, `bundle ${path.join(".")} → ${how}`);
      }
      if (where === 2) {
        const key = ctx.rng.pick([ANN.bundle, ANN.certificate]);
        const r = confuse(annotations(d)[key], ctx.rng);
        annotations(d)[key] = r.value;
        return say(d, `annotation ${key} → ${r.how}`);
      }
      const key = ctx.rng.pick(["digest", "size", "annotations"]);
      const r = confuse(d.layer[key], ctx.rng);
      d.layer[key] = r.value;
      d.keepAddress = true;
      d.storeAs = d.seed.layer.digest!.toString().slice(7);
      return say(d, `layer ${key} → ${r.how}`);
    },
  },
  {
    family: "att.truncation",
    weight: 4,
    make(ctx) {
      const d = start(ctx);
      const mode = ctx.rng.int(4);
      if (mode === 0) {
        const r = truncate(d.envelope, ctx.rng);
        d.envelope = r.bytes;
        return say(d, `envelope bytes ${r.how}`);
      }
      if (mode === 1) {
        const key = ctx.rng.pick([ANN.bundle, ANN.certificate]);
        const v = String(annotations(d)[key]);
        const keep = ctx.rng.int(v.length);
        annotations(d)[key] = v.slice(0, keep);
        return say(d, `annotation ${key} cut to ${keep}/${v.length} chars`);
      }
      if (mode === 2) {
        let how = "";
        editEnvelope(d, (env) => {
          const r = truncate(unb64(env.payload)!, ctx.rng);
          env.payload = b64(r.bytes);
          how = r.how;
        });
        return say(d, `envelope payload ${how}`);
      }
      let how = "";
      editCert(d, (der) => {
        const r = truncate(der, ctx.rng);
        how = r.how;
        return r.bytes.length ? r.bytes : der.slice(0, 1);
      });
      return say(d, `certificate DER ${how}`);
    },
  },
  {
    family: "att.huge",
    weight: 4,
    make(ctx) {
      const d = start(ctx);
      const mode = ctx.rng.int(6);
      if (mode === 0) {
        const v = ctx.rng.pick([2 ** 63, 1e308, 2 ** 53, -1]);
        d.keepAddress = true;
        d.layer.size = v;
        return say(d, `layer size → ${v}`);
      }
      if (mode === 1) {
        const key = ctx.rng.pick(["integratedTime", "logIndex"]);
        const v = ctx.rng.pick([2 ** 63, 1e308, 2 ** 53, -1]);
        editBundle(d, (b) => bundlePayload(b)[key] = v);
        return say(d, `bundle ${key} → ${v}`);
      }
      if (mode === 2) {
        const n = ctx.rng.pick([100, 2_000]);
        const pem = String(annotations(d)[ANN.certificate]);
        annotations(d)[ctx.rng.pick([ANN.certificate, ANN.chain])] = pem.repeat(n);
        return say(d, `certificate or chain annotation: ${n} certificates`);
      }
      if (mode === 3) {
        const size = ctx.rng.pick([1024 * 1024, 3 * 1024 * 1024]);
        editEnvelope(d, (env) => env.payload = "QUFB".repeat(size / 4));
        return say(d, `envelope payload → ${size} chars of base64`);
      }
      if (mode === 4) {
        const n = ctx.rng.pick([2, 1_000, 20_000]);
        editEnvelope(d, (env) => {
          const s = (env.signatures as unknown[])[0];
          env.signatures = Array.from({ length: n }, () => s);
        });
        return say(d, `envelope with ${n} copies of its signature`);
      }
      const depth = ctx.rng.pick([1_000, 100_000]);
      editEnvelope(
        d,
        (env) => env.payload = b64(utf8.encode("[".repeat(depth) + "]".repeat(depth))),
      );
      return say(d, `envelope payload → JSON nested ${depth} deep`);
    },
  },
  {
    family: "att.expectations",
    weight: 4,
    make(ctx) {
      const d = start(ctx);
      const keys = (["repository", "workflow", "branch"] as const).filter((k) =>
        d.expect[k] !== undefined
      );
      const key = ctx.rng.pick(keys);
      const r = lookalike(d.expect[key]!, ctx.rng);
      d.expect[key] = r.text;
      return say(d, `expected ${key}: ${r.how}`);
    },
  },
  {
    family: "att.content-address",
    weight: 3,
    make(ctx) {
      const d = start(ctx);
      const mode = ctx.rng.int(3);
      d.keepAddress = true;
      if (mode === 0) {
        const r = flipRandomBit(d.envelope, ctx.rng);
        d.envelope = r.bytes;
        d.storeAs = String(d.seed.layer.digest).slice(7);
        return say(d, `envelope byte changed (bit ${r.bit}) but stored under its old digest`);
      }
      if (mode === 1) {
        const o = other(ctx, d.seed);
        d.envelope = o.envelope.slice();
        d.storeAs = String(d.seed.layer.digest).slice(7);
        return say(d, `the other attestation's envelope stored under this one's digest`);
      }
      const cfg = (d.seed.attsManifest.config as JsonObject).digest as string;
      d.layer.digest = cfg;
      d.layer.size = d.seed.blobs.get(cfg.slice(7))!.length;
      return say(d, `layer digest names the config blob`);
    },
  },
  {
    family: "att.layers",
    weight: 3,
    make(ctx) {
      const d = start(ctx);
      const bad = flipRandomBit(d.envelope, ctx.rng).bytes;
      const badLayer = { ...structuredClone(d.seed.layer) };
      // The bad envelope is stored through `storeAs`-free extra layers: name it by its digest.
      badLayer.digest = `sha256:${sha256Hex(bad)}`;
      badLayer.size = bad.length;
      const shapes: [string, (m: JsonObject) => unknown, string | undefined, boolean][] = [
        ["no layers", (m) => ({ ...m, layers: [] }), undefined, false],
        [
          "bit-flipped copy before the real layer",
          (m) => ({
            ...m,
            layers: [badLayer, ...(m.layers as unknown[])],
          }),
          "the real attestation is still there; one verified attestation suffices",
          true,
        ],
        [
          "real layer twice",
          (m) => ({
            ...m,
            layers: [...(m.layers as unknown[]), ...(m.layers as unknown[])],
          }),
          "the same real attestation twice",
          false,
        ],
        [
          "only the bit-flipped copy, twice",
          (m) => ({
            ...m,
            layers: [badLayer, badLayer],
          }),
          undefined,
          true,
        ],
      ];
      const [how, edit, reason, needsBad] = ctx.rng.pick(shapes);
      d.manifestEdit = edit;
      if (needsBad) d.extraBlobs = [{ hex: sha256Hex(bad), bytes: bad }];
      d.forcedNoop = reason;
      return say(d, `.att manifest: ${how}`);
    },
  },
  {
    family: "att.unsigned-field",
    weight: 2,
    make(ctx) {
      const d = start(ctx);
      const logged = d.seed.envelopeHashLogged;
      const choices: [string, string | undefined, () => void][] = [
        [
          "DSSE keyid changed",
          "the DSSE keyid is not covered by the signature",
          () => editEnvelope(d, (env) => firstSig(env).keyid = "attacker"),
        ],
        ["chain annotation bit-flipped", "the chain annotation is never trusted or used", () => {
          const a = annotations(d);
          a[ANN.chain] = toPem(flipRandomBit(certDer(String(a[ANN.chain])), ctx.rng).bytes);
        }],
        [
          "signature annotation set",
          "attestations carry their signature in the envelope",
          () => annotations(d)[ANN.signature] = "MEUCIQ==",
        ],
        [
          "layer mediaType changed",
          "the layer media type is not read for attestations",
          () => d.layer.mediaType = "application/octet-stream",
        ],
        [
          "envelope re-serialized with spaces",
          // intoto 0.0.1 entries log the envelope's hash: there it is a real change.
          logged ? undefined : "a dsse entry logs the payload and signatures, not the JSON layout",
          () =>
            d.envelope = utf8.encode(
              JSON.stringify(JSON.parse(utf8.decode(d.envelope)), null, 1),
            ),
        ],
      ];
      const [how, reason, f] = ctx.rng.pick(choices);
      f();
      d.noopReason = reason;
      return say(d, how);
    },
  },
];
