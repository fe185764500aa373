import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ENTRY = fileURLToPath(new URL("../local_sigstore.ts", import.meta.url));

function spawn(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", ENTRY, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

Deno.test("cli: --out DIR writes trusted_root.json then env, serves, exits on SIGTERM", async () => {
  const dir = await Deno.makeTempDir();
  const child = spawn(["--out", dir]);
  const stderr = new Response(child.stderr).text();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  try {
    while (!(await exists(`${dir}/env`))) {
      if (exited) assert.fail(`exited before writing env: ${await stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const env = Object.fromEntries(
      (await Deno.readTextFile(`${dir}/env`)).trim().split("\n").map((l) => {
        const i = l.indexOf("=");
        return [l.slice(0, i), l.slice(i + 1)];
      }),
    );
    assert.match(env.REKOR_URL, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(env.FULCIO_URL, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(env.TSA_URL, /^http:\/\/127\.0\.0\.1:\d+$/);
    // trusted_root.json is complete by the time env exists
    const root = JSON.parse(await Deno.readTextFile(`${dir}/trusted_root.json`));
    assert.equal(root.tlogs[0].baseUrl, env.REKOR_URL);
    assert.equal(root.certificateAuthorities[0].uri, env.FULCIO_URL);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      ["env", "trusted_root.json"],
      "no temp files left",
    );
    const info = await (await fetch(`${env.REKOR_URL}/api/v1/log`)).json();
    assert.equal(info.treeSize, 0);
    const key = await fetch(`${env.REKOR_URL}/api/v1/log/publicKey`);
    assert.match(await key.text(), /BEGIN PUBLIC KEY/);
    child.kill("SIGTERM");
    const { code } = await status;
    if (code !== 0) assert.fail(`exit code ${code}: ${await stderr}`);
  } finally {
    if (!exited) child.kill("SIGKILL");
    await status;
    await stderr;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: missing --out is a usage error (exit 2)", async () => {
  const child = spawn([]);
  const [stderr, { code }] = await Promise.all([new Response(child.stderr).text(), child.status]);
  assert.equal(code, 2);
  assert.match(stderr, /--out DIR is required/);
});
