/**
 * The refreshed trusted root end to end, through the commands: an image
 * logged in a transparency log (the loopback Rekor) that only the
 * refreshed root knows is refused before the refresh and accepted after;
 * `trust status` says where the root comes from; `prepare-archive` carries
 * the TUF chain (Dangerzone's checks and `skopeo`'s oci-archive reader,
 * which `podman load` uses, still accept the archive); `load-archive` on an
 * air-gapped machine adopts a newer chain and refuses a tampered or older
 * one (a warning; the image verifies only with the root already held).
 */
import { vfsStorageConf } from "./helpers/podman_storage.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { command as upgrade } from "../commands/upgrade.ts";
import { command as trust } from "../commands/trust.ts";
import { command as prepare } from "../commands/prepare-archive.ts";
import { command as load } from "../commands/load-archive.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import { startTufRepo } from "./helpers/tuf_repo.ts";
import { rewriteArchive, snapshot } from "./helpers/files.ts";
import { dangerzoneChecks } from "./helpers/dangerzone_archive.ts";
import { onPath } from "../lib/runtime/exec.ts";
import { envWith } from "./helpers/env.ts";

/** Environment variables the commands of this file read (never set process-wide). */
const testEnv: Record<string, string | undefined> = {};

async function run(cmd: typeof upgrade, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cmd.main(args, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: envWith(testEnv),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test({
  name: "tuf end to end: upgrade before/after refresh, trust status, archive carrying the chain",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    await using repo = await startTufRepo();
    const anchorPath = join(lab.dir, "tuf-root.json");
    await Deno.writeFile(anchorPath, repo.roots[0]);
    testEnv.DANGERZONE_IMAGE_TUF_URL = repo.url;
    testEnv.DANGERZONE_IMAGE_TUF_ROOT = anchorPath;
    try {
      const data = join(lab.dir, "data");
      const store = join(lab.dir, "store");
      const name = `${lab.reg.host}/dz/app`;
      const common = ["--key", lab.keyPath, "--data-dir", data, "--progress", "none"];
      const d1 = await lab.push("dz/app", { v: "1" }, "latest");
      await lab.sign("dz/app", d1);
      // The repository serves the root that knows the loopback Rekor.
      repo.publish(await Deno.readFile(lab.rootPath));

      // Before any refresh (offline): the embedded root does not know the log.
      let r = await run(upgrade, [name, ...common, "--runtime", `oci:${store}`, "--offline"]);
      assert.equal(r.code, 1, r.out + r.err);
      assert.equal(repo.requests.length, 0);
      assert.equal((await snapshot(store)).size, 0);
      r = await run(trust, ["status", "--json", ...common]);
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).origin, "embedded");

      // Online: the cache is empty, so upgrade refreshes through TUF and the image verifies.
      r = await run(upgrade, [name, ...common, "--runtime", `oci:${store}`, "--json"]);
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).digest, d1);
      assert.equal(r.err, "");
      r = await run(trust, ["status", "--json", ...common]);
      const status = JSON.parse(r.out);
      assert.equal(status.origin, "tuf-cache");
      assert.equal(status.tuf.rootVersion, 1);
      assert.equal(status.repository, repo.url);
      assert.equal(status.tuf.expired, false);
      r = await run(trust, ["status", ...common]);
      assert.match(r.out, /TUF root:\s+v1, expires/);

      // --trusted-root overrides everything.
      r = await run(trust, ["status", "--json", ...common, "--trusted-root", lab.rootPath]);
      assert.equal(JSON.parse(r.out).origin, "file");

      // prepare-archive carries the chain; Dangerzone's checks and skopeo accept the archive.
      const tar = join(lab.dir, "dz.tar");
      r = await run(prepare, [`${name}@${d1}`, ...common, "--output", tar, "--json"]);
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).tufChain, true);
      const view = await dangerzoneChecks(tar);
      assert.ok(view.names.includes("./dangerzone-image/tuf/timestamp.json"), view.names.join());
      assert.ok(view.names.includes("./dangerzone-image/tuf/trusted_root.json"));
      assert.equal(view.imageDigest, d1);
      const sk = await new Deno.Command("skopeo", {
        args: ["inspect", `oci-archive:${tar}`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(sk.success, new TextDecoder().decode(sk.stderr));
      assert.equal(JSON.parse(new TextDecoder().decode(sk.stdout)).Digest, d1);
      if (onPath("podman")) {
        const pm = join(lab.dir, "podman");
        await Deno.mkdir(pm);
        const conf = await vfsStorageConf(pm);
        const p = await new Deno.Command("podman", {
          args: ["load", "-i", tar],
          env: { CONTAINERS_STORAGE_CONF: conf },
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(p.success, new TextDecoder().decode(p.stderr));
      }

      // Air-gapped machine, anchor only: the carried chain verifies, is adopted and kept.
      const air = join(lab.dir, "air");
      const airStore = join(lab.dir, "air-store");
      const airArgs = ["--key", lab.keyPath, "--data-dir", air, "--progress", "none"];
      const requests = repo.requests.length;
      r = await run(load, [tar, ...airArgs, "--runtime", `oci:${airStore}`, "--json"]);
      assert.equal(r.code, 0, r.err);
      assert.match(JSON.parse(r.out).trustedRoot, /^tuf:/);
      assert.equal(repo.requests.length, requests);
      r = await run(trust, ["status", "--json", ...airArgs]);
      assert.equal(JSON.parse(r.out).origin, "tuf-cache");

      // A tampered chain (its trusted root swapped, hashes unchanged) on a fresh machine: refused
      // for its root, and the image does not verify with the embedded one: nothing installed.
      const evil = join(lab.dir, "evil.tar");
      const public_ = await Deno.readTextFile(
        new URL("../lib/trust/public_good_trusted_root.json", import.meta.url),
      );
      const labRoot = JSON.parse(await Deno.readTextFile(lab.rootPath));
      await rewriteArchive(tar, evil, (files) => {
        // The attacker's root: the lab's logs, re-serialised (other bytes, same trust).
        files.set(
          "./dangerzone-image/tuf/trusted_root.json",
          new TextEncoder().encode(JSON.stringify(labRoot)),
        );
      });
      const fresh = join(lab.dir, "fresh");
      const freshStore = join(lab.dir, "fresh-store");
      r = await run(load, [
        evil,
        "--key",
        lab.keyPath,
        "--data-dir",
        fresh,
        "--progress",
        "none",
        "--runtime",
        `oci:${freshStore}`,
      ]);
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(
        r.err,
        /archive's Sigstore trusted root is refused \(TUF metadata refused: .*hash/i,
      );
      assert.equal((await snapshot(freshStore)).size, 0);
      assert.equal((await snapshot(join(fresh, "tuf"))).size, 0);
      assert.ok(public_.length > 0);

      // A newer chain reaches the air-gapped machine, then an older archive: its chain is
      // refused, the newer root stays, and the image verifies with the root held.
      repo.publish(await Deno.readFile(lab.rootPath));
      r = await run(upgrade, [name, ...common, "--runtime", `oci:${store}`]);
      assert.equal(r.code, 0, r.err);
      await Deno.remove(join(data, "tuf"), { recursive: true }); // force a refresh for the next archive
      const tar2 = join(lab.dir, "dz2.tar");
      r = await run(prepare, [`${name}@${d1}`, ...common, "--output", tar2]);
      assert.equal(r.code, 0, r.err);
      r = await run(load, [tar2, ...airArgs, "--runtime", `oci:${airStore}`]);
      assert.equal(r.code, 0, r.err);
      const airTuf = await snapshot(join(air, "tuf"));
      r = await run(load, [tar, ...airArgs, "--runtime", `oci:${airStore}`]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /archive's Sigstore trusted root is refused .*BadVersionError/);
      assert.deepEqual(await snapshot(join(air, "tuf")), airTuf);
    } finally {
      testEnv.DANGERZONE_IMAGE_TUF_URL = undefined;
      testEnv.DANGERZONE_IMAGE_TUF_ROOT = undefined;
    }
  },
});
