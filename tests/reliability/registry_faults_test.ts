/**
 * Registry faults through the real client paths (see `registry_faults.ts`):
 * 5xx / 429 with Retry-After are retried and succeed; truncated, corrupt,
 * foreign and same-size-but-wrong bodies are refused with a typed error;
 * stalls time out; dropped connections end in a typed error; and in every
 * case the layout holds no wrong blob and no temp file.
 */

import assert from "node:assert/strict";
import { OciLayout } from "../../lib/oci/layout.ts";
import {
  auditLayout,
  FAULT_CASES,
  judge,
  runFaultCase,
  startFaultFixture,
} from "./registry_faults.ts";
import { startTcpFaultProxy } from "./tcp_fault_proxy.ts";

Deno.test("registry faults: each case recovers or is refused as required, no data lost", async (t) => {
  const fx = await startFaultFixture();
  try {
    for (const c of FAULT_CASES) {
      await t.step(`${c.family}: ${c.description} → ${c.expect}`, async () => {
        const o = await runFaultCase(c, fx);
        assert.equal(o.dataLost, false, o.detail);
        assert.equal(judge(c, o), undefined, `${o.outcome}: ${o.detail}`);
        if (c.family.endsWith("-retry") || c.family.startsWith("fault.push-upload")) {
          assert.ok((o.attempts ?? 0) >= 2, `expected a retry, saw ${o.attempts} request(s)`);
        }
      });
    }
  } finally {
    await fx.close();
  }
});

Deno.test("layout audit: flags a temp file and a blob whose bytes do not match its name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dz_audit_" });
  try {
    const layout = await OciLayout.openOrCreate(dir);
    const good = await layout.writeBlobBytes(new TextEncoder().encode("good"));
    assert.deepEqual(await auditLayout(layout), []);
    await Deno.writeTextFile(`${dir}/blobs/sha256/.x.1234.tmp`, "partial");
    await Deno.writeTextFile(`${dir}/blobs/sha256/${"0".repeat(64)}`, "wrong");
    const problems = await auditLayout(layout);
    assert.equal(problems.length, 2, problems.join("; "));
    assert.ok(problems.some((p) => p.includes("stray file")));
    assert.ok(problems.some((p) => p.includes("hashing to")));
    assert.ok(await layout.hasBlob(good.digest));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tcp fault proxy: relays unmatched traffic and cuts only the matched response", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => new Response(new URL(req.url).pathname === "/cut" ? "x".repeat(200_000) : "hello"),
  );
  const port = (server.addr as Deno.NetAddr).port;
  await using p = startTcpFaultProxy({
    upstream: `127.0.0.1:${port}`,
    match: "GET /cut",
    cutAfterBytes: 1000,
    times: 1,
  });
  try {
    assert.equal(await (await fetch(`http://${p.host}/ok`)).text(), "hello");
    await assert.rejects(async () => await (await fetch(`http://${p.host}/cut`)).text());
    assert.equal(p.cuts, 1);
    // Only the first matching request is cut.
    assert.equal((await (await fetch(`http://${p.host}/cut`)).text()).length, 200_000);
  } finally {
    await server.shutdown();
  }
});
