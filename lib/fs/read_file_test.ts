import assert from "node:assert/strict";
import { join } from "node:path";
import { readLocalFile, readLocalText, readTextIfExists } from "./read_file.ts";
import { IoError, UsageError } from "../errors/errors.ts";

Deno.test("readLocalFile: reads, names the file in every failure, bounds the size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dz-read-file-" });
  try {
    const small = join(dir, "k.pub");
    await Deno.writeTextFile(small, "hello");
    assert.equal(await readLocalText(small, { what: "key file", limit: 5 }), "hello");

    // One byte over the limit is refused, however the file was named.
    await assert.rejects(
      readLocalFile(small, { what: "key file", limit: 4 }),
      (e) => e instanceof IoError && /key file .*k\.pub is larger than 4 bytes/.test(e.message),
    );
    // A huge file (here sparse, 8 GiB) is refused without reading it whole.
    const huge = join(dir, "huge");
    const f = await Deno.open(huge, { write: true, create: true });
    await f.truncate(8 * 1024 * 1024 * 1024);
    f.close();
    await assert.rejects(readLocalFile(huge, { what: "trusted root", limit: 1024 }), IoError);

    const missing = join(dir, "nope");
    await assert.rejects(
      readLocalFile(missing, { what: "bundle" }),
      (e) => e instanceof IoError && e.message === `cannot read bundle ${missing}: no such file`,
    );
    await assert.rejects(
      readLocalFile(missing, { what: "key file", missing: () => new UsageError("give --key") }),
      UsageError,
    );
    // A directory is not a file: an IoError naming it, not a crash.
    await assert.rejects(
      readLocalFile(dir, { what: "artifact" }),
      (e) => e instanceof IoError && e.message.startsWith(`cannot read artifact ${dir}`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readTextIfExists: absent is undefined, present is its text, unreadable an IoError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dz-read-file-" });
  try {
    assert.equal(await readTextIfExists(join(dir, "none")), undefined);
    await Deno.writeTextFile(join(dir, "state"), "\ufeff{}");
    assert.equal(await readTextIfExists(join(dir, "state")), "\ufeff{}");
    await assert.rejects(
      readTextIfExists(dir),
      (e) => e instanceof IoError && e.message.startsWith(`cannot read ${dir}: `),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
