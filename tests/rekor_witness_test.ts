/**
 * Logging the entries `@sigstore/sign`'s bundle builders propose through the Rekor
 * witness (`lib/transparency/rekor.ts`, `lib/publish/bundle_builders.ts`) against the real loopback Rekor and
 * hostile servers: an entry already logged (409) is fetched from the same
 * log, never from the host a hostile `Location` names; an unreachable,
 * silent, refusing or garbling log is one error with its code, and
 * `sign-blob` writes nothing then.
 */
import { exitStatusOf } from "../lib/cli/exit_codes.ts";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { join } from "node:path";
import { startLocalSigstore } from "../scripts/local_sigstore.ts";
import { KeyObjectSigner } from "../lib/keys/signer.ts";
import { generateCosignKeyPair } from "../lib/keys/private_key.ts";
import { createDsseBundle, createMessageBundle } from "../lib/publish/bundle_builders.ts";
import { rekorWitness } from "../lib/transparency/rekor.ts";
import { DzError, NetworkError, RegistryError, VerificationError } from "../lib/errors/errors.ts";
import { command as signBlob } from "../commands/sign-blob.ts";
import { replaySigner } from "./helpers/attacker.ts";
import { startRecorder, startSilentServer } from "./helpers/hostile_server.ts";
import { envWith } from "./helpers/env.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

function newSigner(): KeyObjectSigner {
  return new KeyObjectSigner(crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey);
}

/** What `createMessageBundle` threw, checked to be a one-line user error. */
async function failure(p: Promise<unknown>): Promise<DzError> {
  const e = await p.then(() => undefined, (e) => e);
  assert.ok(e instanceof DzError, `not a user error: ${e?.stack ?? e}`);
  assert.equal(e.message.split("\n").length, 1, e.message);
  return e;
}

Deno.test({
  ...opts,
  name:
    "rekor witness: an entry logged again (409) is fetched from the same log, not from Location's host",
  async fn() {
    const ss = await startLocalSigstore();
    await using elsewhere = startRecorder("127.0.0.2", undefined, () => Response.json({}));
    // A Rekor in the middle: forwards, but points a 409's Location at another host.
    await using mitm = startRecorder("127.0.0.1", undefined, async (req) => {
      const url = new URL(req.url);
      const res = await fetch(new URL(url.pathname, ss.rekorUrl), {
        method: req.method,
        headers: req.headers,
        body: req.body,
      });
      const headers = new Headers(res.headers);
      const loc = headers.get("location");
      if (res.status === 409 && loc) {
        headers.set("location", `${elsewhere.origin}${new URL(loc, ss.rekorUrl).pathname}`);
      }
      return new Response(res.body, { status: res.status, headers });
    });
    try {
      const signer = newSigner();
      const bytes = new TextEncoder().encode("logged twice\n");
      const signature = await signer.sign(bytes);
      const replay = replaySigner(signer.publicKeyPem(), signature);
      const first = await createMessageBundle({ bytes, signer: replay, rekorUrl: ss.rekorUrl });
      const again = await createMessageBundle({ bytes, signer: replay, rekorUrl: mitm.origin });
      assert.deepEqual(again.rekor, first.rekor, "the entry already logged");
      assert.deepEqual(again.bundle.messageSignature, first.bundle.messageSignature);
      assert.deepEqual(mitm.seen.map((s) => s.line.replace(/[0-9a-f]{64,}$/, "ID")), [
        "POST /api/v1/log/entries",
        "GET /api/v1/log/entries/ID",
      ]);
      assert.deepEqual(elsewhere.seen, [], "nothing asked of the host Location named");
      assert.equal(first.rekor!.uuid.length, 64);
      assert.ok(mitm.seen[1].line.endsWith(first.rekor!.uuid), "Rekor's UUID is the leaf hash");
    } finally {
      await ss.close();
    }
  },
});

Deno.test({
  ...opts,
  name: "rekor witness: unreachable, silent, refusing and garbling logs are one-line errors",
  async fn() {
    const signer = newSigner();
    const bytes = new TextEncoder().encode("x");

    // Nothing listens there.
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    const down = await failure(
      createMessageBundle({ bytes, signer, rekorUrl: `http://127.0.0.1:${port}` }),
    );
    assert.ok(down instanceof NetworkError);
    assert.equal(exitStatusOf(down), 3);
    assert.match(down.message, /^cannot reach Rekor at http:\/\/127\.0\.0\.1:\d+: /);

    // Accepts, never answers: the timeout ends it.
    await using silent = startSilentServer();
    const witness = rekorWitness(`http://${silent.host}`, 300);
    const started = Date.now();
    const timedOut = await witness.testify(
      {
        $case: "messageSignature",
        messageSignature: {
          messageDigest: {
            algorithm: 1,
            digest: crypto.createHash("sha256").update(bytes).digest(),
          },
          signature: Buffer.from(await signer.sign(bytes)),
        },
      },
      signer.publicKeyPem(),
    ).then(() => undefined, (e) => e);
    assert.ok(timedOut instanceof NetworkError, String(timedOut));
    assert.ok(Date.now() - started < 10_000, "the timeout applied");

    // Refuses (an HTTP error status, no retry).
    let posts = 0;
    await using refusing = startRecorder("127.0.0.1", undefined, () => {
      posts++;
      return Response.json({ code: 500, message: "log is\nbroken" }, { status: 500 });
    });
    const refused = await failure(
      createMessageBundle({ bytes, signer, rekorUrl: refusing.origin }),
    );
    assert.ok(refused instanceof RegistryError);
    assert.equal(refused.status, 500);
    assert.match(
      refused.message,
      /^Rekor at http:\/\/127\.0\.0\.1:\d+ refused the entry: HTTP 500 log is broken$/,
    );
    assert.equal(posts, 1, "no retry");

    // Answers 201 with garbage.
    for (
      const answer of [
        () =>
          new Response("not json", {
            status: 201,
            headers: { "content-type": "application/json" },
          }),
        () => Response.json({}, { status: 201 }),
        () => Response.json({ a: {}, b: {} }, { status: 201 }),
        () => Response.json({ id: { body: "e30=", logID: "00" } }, { status: 201 }),
        () =>
          Response.json({ id: { logIndex: 1, integratedTime: 1, logID: "00", body: "e30=" } }, {
            status: 201,
          }),
      ]
    ) {
      await using garbling = startRecorder("127.0.0.1", undefined, answer);
      const e = await failure(
        createDsseBundle({ payload: bytes, signer, rekorUrl: garbling.origin }),
      );
      assert.ok(e instanceof VerificationError, `${e.name}: ${e.message}`);
      assert.equal(e.code, "REKOR_RESPONSE");
    }
  },
});

Deno.test({
  ...opts,
  name: "sign-blob: an unreachable Rekor is exit 3, one line, nothing written",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const pair = await generateCosignKeyPair("pw");
      const key = join(dir, "cosign.key");
      await Deno.writeTextFile(key, pair.privateKeyPem);
      const file = join(dir, "a.txt");
      await Deno.writeTextFile(file, "a\n");
      const out = join(dir, "a.txt.sigstore.json");
      const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const rekorUrl = `http://127.0.0.1:${(closed.addr as Deno.NetAddr).port}`;
      closed.close();
      const err: string[] = [];
      const ss = await startLocalSigstore();
      try {
        const root = join(dir, "trusted_root.json");
        await ss.writeTrustedRoot(root);
        const code = await signBlob.main(
          [file, "--key", key, "--bundle", out, "--rekor-url", rekorUrl, "--trusted-root", root],
          { out: () => {}, err: (t) => err.push(t), env: envWith({ COSIGN_PASSWORD: "pw" }) },
        );
        assert.equal(code, 3, err.join("\n"));
        const text = err.join("\n").trim();
        assert.equal(text.split("\n").length, 1, text);
        assert.match(text, /cannot reach Rekor at/);
        assert.equal(await Deno.lstat(out).then(() => true, () => false), false);
      } finally {
        await ss.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
