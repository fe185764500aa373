import assert from "node:assert/strict";
import { authFilePath, defaultDataDir, extraAuthFilePaths, nonEmpty } from "./paths.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name] || undefined;

Deno.test("data dir: $DANGERZONE_IMAGE_DATA_DIR wins on every OS", () => {
  for (const os of ["linux", "darwin", "windows"] as const) {
    assert.equal(
      defaultDataDir(
        envOf({ DANGERZONE_IMAGE_DATA_DIR: "/x", HOME: "/h", LOCALAPPDATA: "C:\\L" }),
        os,
      ),
      "/x",
    );
  }
});

Deno.test("data dir: Dangerzone's platformdirs user_data_dir('dangerzone') per OS", () => {
  // Linux: XDG_DATA_HOME, else ~/.local/share (an empty or blank XDG_DATA_HOME is unset).
  assert.equal(
    defaultDataDir(envOf({ XDG_DATA_HOME: "/xdg", HOME: "/home/u" }), "linux"),
    "/xdg/dangerzone",
  );
  assert.equal(
    defaultDataDir(envOf({ XDG_DATA_HOME: "  ", HOME: "/home/u" }), "linux"),
    "/home/u/.local/share/dangerzone",
  );
  assert.equal(
    defaultDataDir(envOf({ HOME: "/home/u" }), "linux"),
    "/home/u/.local/share/dangerzone",
  );
  assert.equal(
    defaultDataDir(envOf({ HOME: "/home/u" }), "freebsd"),
    "/home/u/.local/share/dangerzone",
  );
  // macOS: ~/Library/Application Support, XDG ignored.
  assert.equal(
    defaultDataDir(envOf({ XDG_DATA_HOME: "/xdg", HOME: "/Users/u" }), "darwin"),
    "/Users/u/Library/Application Support/dangerzone",
  );
  // Windows: %LOCALAPPDATA%\dangerzone\dangerzone (author = app name).
  assert.equal(
    defaultDataDir(envOf({ LOCALAPPDATA: "C:\\Users\\u\\AppData\\Local" }), "windows"),
    "C:\\Users\\u\\AppData\\Local\\dangerzone\\dangerzone",
  );
  assert.equal(
    defaultDataDir(envOf({ USERPROFILE: "C:\\Users\\u" }), "windows"),
    "C:\\Users\\u\\AppData\\Local\\dangerzone\\dangerzone",
  );
});

Deno.test("paths: the auth files come from the env reader given, empty values unset", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assert.equal(authFilePath(env({ REGISTRY_AUTH_FILE: "/a/auth.json" })), "/a/auth.json");
  assert.equal(authFilePath(env({ DOCKER_CONFIG: "/d", HOME: "/h" })), "/d/config.json");
  assert.equal(authFilePath(env({ REGISTRY_AUTH_FILE: "", HOME: "/h" })), "/h/.docker/config.json");
  assert.deepEqual(extraAuthFilePaths(env({ XDG_RUNTIME_DIR: "/run/u", HOME: "/h" })), [
    "/run/u/containers/auth.json",
    "/h/.config/containers/auth.json",
  ]);
  assert.equal(nonEmpty(env({ A: "" }))("A"), undefined);
  assert.equal(nonEmpty(env({ A: "x" }))("A"), "x");
});
