/**
 * podman storage for tests: a private `storage.conf` with the `vfs` driver
 * (works as root in any container, no overlay needed), its graph and run
 * roots inside `dir`. Pass it per command as `CONTAINERS_STORAGE_CONF`.
 *
 * @module
 */

import { join } from "node:path";

/** Write `dir/storage.conf` (creating `dir`); returns its path. */
export async function vfsStorageConf(dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const conf = join(dir, "storage.conf");
  await Deno.writeTextFile(
    conf,
    `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`,
  );
  return conf;
}
