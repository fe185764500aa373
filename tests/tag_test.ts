import assert from "node:assert/strict";
import { command } from "../commands/tag.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { buildImage } from "./helpers/image_build.ts";
import { pushImage } from "./helpers/image_push.ts";
import { skopeoInspect, startRegistry } from "./helpers/registry.ts";
import { startFaultProxy } from "./helpers/fault_proxy.ts";

function sinks() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, sinks: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

Deno.test("tag: moves a tag to a digest, no blob transfer; and IMAGE:TAG NEWTAG", async () => {
  await using reg = await startRegistry();
  const client = new RegistryClient(reg.host);
  const v1 = await buildImage({ files: { "v": "1" } });
  const v2 = await buildImage({ files: { "v": "2" } });
  const d1 = await pushImage(client, "app/x", v1, "latest");
  const d2 = await pushImage(client, "app/x", v2);

  // Through a counting proxy: tagging moves no blob.
  await using proxy = startFaultProxy(reg.url, () => undefined);
  const s = sinks();
  const code = await command.main([`${proxy.host}/app/x@${d2}`, "latest", "--json"], s.sinks);
  assert.equal(code, 0, s.err.join("\n"));
  const result = JSON.parse(s.out[0]);
  assert.equal(result.digest, d2);
  assert.equal(result.previous, d1);
  const info = await skopeoInspect(`${reg.host}/app/x:latest`);
  assert.equal(info.Digest, d2);
  assert.ok(proxy.seen.length <= 5, proxy.seen.join(", "));
  assert.deepEqual(proxy.seen.filter((r) => r.includes("/blobs/")), [], "no blob request");

  // IMAGE:TAG NEWTAG, as crane accepts: the tag's current manifest.
  const byTag = sinks();
  assert.equal(
    await command.main(["--json", `${reg.host}/app/x:latest`, "stable"], byTag.sinks),
    0,
    byTag.err.join("\n"),
  );
  assert.equal(JSON.parse(byTag.out[0]).digest, d2);
  assert.equal((await skopeoInspect(`${reg.host}/app/x:stable`)).Digest, d2);
  const badTag = sinks();
  assert.equal(await command.main([`${reg.host}/app/x@${d2}`, "-bad"], badTag.sinks), 2);
  const missing = sinks();
  const absent = "sha256:" + "1".repeat(64);
  assert.equal(await command.main([`${reg.host}/app/x@${absent}`, "t"], missing.sinks), 3);
  assert.match(
    missing.err[0],
    /no such image\/tag sha256:1+ in 127\.0\.0\.1:\d+\/app\/x; check the name/,
  );
  assert.equal((await skopeoInspect(`${reg.host}/app/x:latest`)).Digest, d2);
});
