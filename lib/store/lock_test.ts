/** The lock file: mutual exclusion, stale locks broken, live locks time out. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { withLock } from "./lock.ts";
import { bootId, processStartTime } from "./lock_owner.ts";

const linux = Deno.build.os === "linux";

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "lock_test_" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** A live process that is not us: `sleep 60`, killed on dispose. */
function sleeper(): { pid: number } & AsyncDisposable {
  const child = new Deno.Command("sleep", { args: ["60"], stdin: "null", stdout: "null" }).spawn();
  return {
    pid: child.pid,
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}

/** Can this user make a private mount namespace (for a small full tmpfs)? */
function canUnshare(): boolean {
  if (!linux) return false;
  try {
    return new Deno.Command("unshare", { args: ["-Urm", "true"], stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

function collect() {
  const lines: string[] = [];
  return { lines, notice: (l: string) => lines.push(l) };
}

Deno.test("withLock: tasks never overlap; the lock is removed afterwards", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = join(dir, "lock");
  let inside = 0;
  let maxInside = 0;
  const task = () =>
    withLock(path, async () => {
      inside++;
      maxInside = Math.max(maxInside, inside);
      await new Promise((r) => setTimeout(r, 5));
      inside--;
    }, { pollMs: 1 });
  await Promise.all([task(), task(), task(), task()]);
  assert.equal(maxInside, 1);
  await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

Deno.test("withLock: records pid, start time and boot id; file 0600 in a 0700 dir", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = join(dir, "data", "lock");
  await withLock(path, async () => {
    const doc = JSON.parse(await Deno.readTextFile(path));
    assert.equal(doc.pid, Deno.pid);
    if (linux) {
      assert.equal(doc.startTime, await processStartTime(Deno.pid));
      assert.equal(doc.bootId, await bootId());
      assert.match(doc.bootId, /^[0-9a-f-]{36}$/);
    }
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(join(dir, "data"))).mode! & 0o777, 0o700);
  });
});

Deno.test("withLock: a live holder is announced once, then the wait times out", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = join(dir, "lock");
  const created = Date.parse("2030-01-02T03:04:05Z");
  const held = {
    pid: Deno.pid,
    host: Deno.hostname(),
    nonce: "live",
    created,
    ...(linux ? { startTime: await processStartTime(Deno.pid), bootId: await bootId() } : {}),
  };
  await Deno.writeTextFile(path, JSON.stringify(held));
  const { lines, notice } = collect();
  await assert.rejects(
    withLock(path, () => Promise.resolve(1), { timeoutMs: 60, pollMs: 5, notice }),
    new RegExp(`${path} is held by pid ${Deno.pid} since 2030-01-02T03:04:05Z; gave up after`),
  );
  assert.deepEqual(lines, [
    `waiting for ${path} held by pid ${Deno.pid} since 2030-01-02T03:04:05Z`,
  ]);
  assert.equal(JSON.parse(await Deno.readTextFile(path)).nonce, "live");
});

Deno.test({
  name: "withLock: a dead pid, a reused pid (other start time or boot) are broken with a notice",
  ignore: !linux,
  async fn() {
    await using tmp = await tempDir();
    const dir = tmp.path;
    await using other = sleeper();
    const path = join(dir, "lock");
    const realStart = (await processStartTime(other.pid))!;
    assert.ok(realStart);
    const base = { host: Deno.hostname(), created: Date.parse("2024-03-01T00:00:00Z") };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ pid: 99999999, nonce: "dead" }, /pid 99999999 no longer runs/],
      // The crashed run's pid now belongs to `sleep`, which started at another time.
      [
        { pid: other.pid, nonce: "reused", startTime: String(Number(realStart) + 12345) },
        new RegExp(`pid ${other.pid} is now another process$`),
      ],
      // A lock from before a reboot: the boot id differs (the start time even matches).
      [
        {
          pid: other.pid,
          nonce: "reboot",
          startTime: realStart,
          bootId: "00000000-0000-0000-0000-000000000000",
        },
        /the machine restarted since/,
      ],
      // An old-format lock (no start time), taken long before `sleep` started.
      [{ pid: other.pid, nonce: "old" }, /is now another process \(started later\)/],
    ];
    for (const [lock, why] of cases) {
      await Deno.writeTextFile(path, JSON.stringify({ ...base, ...lock }));
      const { lines, notice } = collect();
      const t0 = Date.now();
      assert.equal(await withLock(path, () => Promise.resolve(7), { notice }), 7);
      assert.ok(Date.now() - t0 < 2000, "broken at once, not after a wait");
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(
        lines[0],
        new RegExp(`^removed stale lock ${path}: taken by pid \\d+ at 2024-03-01`),
      );
      assert.match(lines[0], why);
      await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
    }

    // The same live `sleep`, recorded with its true start time: it holds the lock.
    await Deno.writeTextFile(
      path,
      JSON.stringify({ ...base, pid: other.pid, nonce: "alive", startTime: realStart }),
    );
    await assert.rejects(
      withLock(path, () => Promise.resolve(1), { timeoutMs: 30, pollMs: 5 }),
      new RegExp(`held by pid ${other.pid}`),
    );
  },
});

Deno.test("withLock: a dangling symlink, or one to another file, is removed, never followed", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = join(dir, "lock");
  const target = join(dir, "elsewhere");
  for (const exists of [false, true]) {
    if (exists) await Deno.writeTextFile(target, "not a lock");
    await Deno.symlink(target, path);
    const { lines, notice } = collect();
    const t0 = Date.now();
    assert.equal(await withLock(path, () => Promise.resolve("taken"), { notice }), "taken");
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(lines, [
      `removed stale lock ${path}: a symbolic link (to ${target}) is not a lock`,
    ]);
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  }
  assert.equal(await Deno.readTextFile(target), "not a lock");
});

Deno.test("withLock: a directory in the lock's place is refused at once, naming it", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = join(dir, "lock");
  await Deno.mkdir(path);
  await assert.rejects(
    withLock(path, () => Promise.resolve(1), { timeoutMs: 60_000 }),
    new RegExp(`${path} is a directory, not a lock file`),
  );
});

Deno.test({
  name: "withLock: a full disk leaves no lock.*.tmp behind and says what to do",
  ignore: !canUnshare(),
  async fn() {
    // A private mount namespace with a 64 KiB tmpfs, filled up.
    await using tmp = await tempDir();
    const dir = tmp.path;
    const script = [
      `mount -t tmpfs -o size=64k none "${dir}"`,
      `mkdir "${dir}/data"`,
      `dd if=/dev/zero of="${dir}/fill" bs=4k 2>/dev/null`,
      `"${Deno.execPath()}" eval --quiet 'import { withLock } from "${
        new URL("./lock.ts", import.meta.url).href
      }"; try { await withLock("${dir}/data/lock", () => Promise.resolve()); console.log("TAKEN"); } catch (e) { console.log("ERR " + e.message + " | " + e.hint); }'`,
      `ls -A "${dir}/data"; echo END`,
    ].join("\n");
    const out = await new Deno.Command("unshare", {
      args: ["-Urm", "sh", "-c", script],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.match(
      text,
      /^ERR cannot create lock .*\/data\/lock: No space left on device.* \| check/m,
    );
    // Nothing listed between the error and END: no lock, no temp file.
    assert.match(text, /\| [^\n]*\nEND\n$/, text);
  },
});

Deno.test({
  name:
    "withLock: without /proc access (least privilege) a live lock holds; an untouched one is broken",
  ignore: !linux,
  async fn() {
    await using tmp = await tempDir();
    const dir = tmp.path;
    const path = join(dir, "lock");
    const script = join(dir, "child.ts");
    await Deno.writeTextFile(
      script,
      `import { withLock } from "${new URL("./lock.ts", import.meta.url).href}";
try {
  await withLock(${JSON.stringify(path)}, () => Promise.resolve(), {
    timeoutMs: 300, pollMs: 20, notice: (l) => console.log("NOTICE " + l) });
  console.log("TAKEN");
} catch (e) { console.log("ERR " + e.message); }`,
    );
    const child = async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", `--allow-read=${dir}`, `--allow-write=${dir}`, script],
        stdin: "null",
        stdout: "piped",
      }).output();
      return new TextDecoder().decode(out.stdout);
    };
    // A live holder (this process, with its true start time) it cannot check.
    const held = {
      pid: Deno.pid,
      host: "unknown", // what a run without --allow-sys records and sees
      nonce: "live",
      created: Date.now(),
      startTime: await processStartTime(Deno.pid),
    };
    await Deno.writeTextFile(path, JSON.stringify(held));
    const waited = await child();
    assert.match(waited, /^NOTICE waiting for .*lock held by pid \d+ since /m);
    assert.match(waited, /^ERR .* is held by pid/m);
    assert.equal(JSON.parse(await Deno.readTextFile(path)).nonce, "live");
    // The same lock, untouched for 10 minutes (no heartbeat: its owner died).
    const old = new Date(Date.now() - 10 * 60 * 1000);
    await Deno.utime(path, old, old);
    const broken = await child();
    assert.match(
      broken,
      /^NOTICE removed stale lock .*: its owner cannot be checked and it was last touched 10 minutes ago$/m,
    );
    assert.match(broken, /^TAKEN$/m);
  },
});
