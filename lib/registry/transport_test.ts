import assert from "node:assert/strict";
import { RegistryTransport, retryAfterMs } from "./transport.ts";
import { UsageError } from "../errors/errors.ts";

Deno.test("transport: HTTPS unless loopback or --insecure-registry", () => {
  assert.equal(new RegistryTransport("ghcr.io").origin, "https://ghcr.io");
  assert.equal(new RegistryTransport("docker.io").origin, "https://registry-1.docker.io");
  assert.equal(new RegistryTransport("127.0.0.1:5000").origin, "http://127.0.0.1:5000");
  assert.equal(new RegistryTransport("localhost:5000").origin, "http://localhost:5000");
  assert.equal(new RegistryTransport("reg.lan:5000").origin, "https://reg.lan:5000");
  assert.equal(
    new RegistryTransport("reg.lan:5000", { insecureRegistries: ["reg.lan:5000"] }).origin,
    "http://reg.lan:5000",
  );
  // Another port of an insecure host stays HTTPS.
  assert.equal(
    new RegistryTransport("reg.lan:5001", { insecureRegistries: ["reg.lan:5000"] }).origin,
    "https://reg.lan:5001",
  );
});

Deno.test("transport: proxy URLs are checked", () => {
  assert.throws(() => new RegistryTransport("ghcr.io", { proxy: "ftp://x:1" }), UsageError);
  assert.throws(() => new RegistryTransport("ghcr.io", { proxy: "not a url" }), UsageError);
  new RegistryTransport("ghcr.io", { proxy: "socks5h://127.0.0.1:9050" }).close();
});

Deno.test("transport: Retry-After in seconds or as a date", () => {
  assert.equal(retryAfterMs("3"), 3000);
  assert.equal(retryAfterMs(null), undefined);
  assert.equal(retryAfterMs("soon"), undefined);
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(retryAfterMs("Thu, 01 Jan 2026 00:00:05 GMT", now), 5000);
});
