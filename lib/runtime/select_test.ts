import assert from "node:assert/strict";
import { runtimeEnv, selectRuntime } from "./select.ts";
import { CliRuntime } from "./cli_runtime.ts";

Deno.test("runtimeEnv: passes the runtime's variables the command's env has, nothing else", () => {
  const vars: Record<string, string> = {
    CONTAINERS_STORAGE_CONF: "/t/storage.conf",
    DOCKER_HOST: "unix:///t/docker.sock",
    COSIGN_PASSWORD: "secret",
  };
  assert.deepEqual(runtimeEnv((n) => vars[n]), {
    CONTAINERS_STORAGE_CONF: "/t/storage.conf",
    DOCKER_HOST: "unix:///t/docker.sock",
  });
  assert.equal(runtimeEnv(() => undefined), undefined);
  const rt = selectRuntime("podman", "/data", { env: runtimeEnv((n) => vars[n]) });
  assert.ok(rt instanceof CliRuntime);
  assert.equal(rt.env?.CONTAINERS_STORAGE_CONF, "/t/storage.conf");
});
