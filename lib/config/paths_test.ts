import assert from "node:assert/strict";
import { defaultDataDir } from "./paths.ts";

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
