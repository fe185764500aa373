/**
 * Everything in the data dir is private whatever the umask: directories
 * 0700, files 0600 (issue 22 item 4). Run as child processes under `umask
 * 000` and `umask 022`: a real `upgrade` (registry, local Rekor, `oci:`
 * store), then the stores' writers directly (signatures, bundles, install
 * record, rollback state) and the lock while held.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { startSigningLab } from "./helpers/signed_images.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const linux = Deno.build.os === "linux";

/** `bash -c 'umask U; exec deno …'` in the project root. */
async function underUmask(umask: string, args: string[]) {
  const quoted = [Deno.execPath(), ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`);
  const out = await new Deno.Command("bash", {
    args: ["-c", `umask ${umask} && exec ${quoted.join(" ")}`],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

/** Every entry under `dir` (itself included) whose mode is not 0700 (dirs) / 0600 (files). */
async function wrongModes(dir: string): Promise<string[]> {
  const bad: string[] = [];
  const check = async (p: string) => {
    const st = await Deno.lstat(p);
    const want = st.isDirectory ? 0o700 : 0o600;
    const mode = st.mode! & 0o777;
    if (mode !== want) bad.push(`${relative(dir, p) || "."} ${mode.toString(8)}`);
    if (st.isDirectory) { for await (const e of Deno.readDir(p)) await check(join(p, e.name)); }
  };
  await check(dir);
  return bad;
}

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  await walk(dir);
  return out.sort();
}

Deno.test({
  name: "data dir: directories 0700 and files 0600 under umask 000 and 022",
  ignore: !linux,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const repo = "dz/modes";
    const d1 = await lab.push(repo, { v: "1" }, "latest");
    await lab.sign(repo, d1);
    const writer = "tests/helpers/data_dir_writer.ts";

    for (const umask of ["000", "022"]) {
      // A real upgrade into a fresh (nested) data dir.
      const data = join(lab.dir, `u${umask}`, "nested", "data");
      const up = await underUmask(umask, [
        "run",
        "--allow-all",
        "mod.ts",
        "upgrade",
        `${lab.reg.host}/${repo}`,
        "--key",
        lab.keyPath,
        "--trusted-root",
        lab.rootPath,
        "--data-dir",
        data,
        "--runtime",
        `oci:${join(lab.dir, `store${umask}`)}`,
        "--progress",
        "none",
      ]);
      assert.equal(up.code, 0, up.err);
      const files = await allFiles(data);
      assert.ok(files.some((f) => f.startsWith("signatures/") && f.endsWith(".json")), `${files}`);
      assert.ok(files.some((f) => f.startsWith("installed/")), `${files}`);
      assert.ok(files.some((f) => f.endsWith("rollback.json")), `${files}`);
      assert.deepEqual(await wrongModes(data), [], `umask ${umask}: ${files}`);
      // Created by us, so private too: the parents the data dir needed.
      assert.deepEqual(await wrongModes(join(lab.dir, `u${umask}`)), [], `umask ${umask}`);

      // Each writer on its own, and the lock while it is held.
      const sigFile = files.find((f) => f.startsWith("signatures/") && !f.includes("rollback"))!;
      const fresh = join(lab.dir, `w${umask}`, "data");
      const w = await underUmask(umask, ["run", "--allow-all", writer, fresh, join(data, sigFile)]);
      assert.equal(w.code, 0, w.err);
      assert.equal(w.out.trim(), "lock 600");
      const written = await allFiles(fresh);
      assert.equal(written.length, 4, `${written}`); // signatures, bundles, record, rollback state
      assert.deepEqual(await wrongModes(join(lab.dir, `w${umask}`)), [], `umask ${umask}`);
    }
  },
});
