/**
 * podman and docker as runtimes, driven through their command lines
 * (`Deno.Command`, argument vectors only). The verified image is first
 * staged in a temporary OCI layout (every blob checked against its digest
 * and size as it is written; a mismatch aborts before the runtime sees a
 * byte), then loaded: podman reads the layout directory itself
 * (`podman load --input DIR`); docker gets it streamed as an oci-archive
 * on stdin. The loaded image is tagged with
 * each name, and read back with `<runtime> image inspect`: the image ID
 * must be the manifest's config digest.
 *
 * podman: tested here (as root with vfs storage, set through
 * `CONTAINERS_STORAGE_CONF` or `extraArgs`). docker: same code path, needs
 * Docker 25+ (`docker load` of OCI archives); not exercised by the test
 * suite (no engine on the build machines). With Docker's containerd image
 * store the image ID is the manifest digest, which is accepted too.
 *
 * @module
 */

import type { Progress } from "../cli/progress.ts";
import type { Manifest } from "../registry/client.ts";
import type { ImageSource } from "../image/source.ts";
import { CONTAINERD_NAME, OciLayout } from "../oci/layout.ts";
import { RuntimeError } from "../cli/errors.ts";
import { ensureDir } from "../fs/atomic.ts";
import type { ContainerRuntime, InstalledImage } from "./runtime.ts";
import { stageImage } from "./stage.ts";
import { layoutTarStream } from "./layout_tar.ts";
import { runTool, runToolOk } from "./exec.ts";

/** Options of {@linkcode CliRuntime}. */
export interface CliRuntimeOptions {
  /** Program to run (default: the runtime's name). */
  binary?: string;
  /** Global arguments put before every subcommand (e.g. `--storage-driver vfs`). */
  extraArgs?: string[];
  /** Where temporary layouts are staged (default: the system temp dir). */
  stagingDir?: string;
}

function normalizeId(id: string): string {
  return id.startsWith("sha256:") ? id : `sha256:${id}`;
}

/** A runtime driven through a docker-compatible command line. */
export class CliRuntime implements ContainerRuntime {
  readonly binary: string;
  readonly extraArgs: string[];
  readonly stagingDir?: string;

  constructor(readonly name: "podman" | "docker", options: CliRuntimeOptions = {}) {
    this.binary = options.binary ?? name;
    this.extraArgs = options.extraArgs ?? [];
    this.stagingDir = options.stagingDir;
  }

  #args(...args: string[]): string[] {
    return [...this.extraArgs, ...args];
  }

  async install(
    source: ImageSource,
    manifest: Manifest,
    names: string[],
    progress?: Progress,
  ): Promise<InstalledImage> {
    if (names.length === 0) throw new TypeError("install: no image name");
    if (this.stagingDir) await ensureDir(this.stagingDir, 0o700); // private, whatever the umask
    const tmp = await Deno.makeTempDir({ dir: this.stagingDir, prefix: `dz-${this.name}-` });
    try {
      const layout = await OciLayout.openOrCreate(tmp);
      // A temporary layout, removed after the load: linked blobs need no fsync.
      const staged = await stageImage(source, manifest, layout, progress, { durable: false });
      await layout.setRef(names[0], staged.descriptor, { [CONTAINERD_NAME]: names[0] });
      const blobs = [staged.descriptor, staged.manifest.config, ...staged.manifest.layers];
      progress?.note(`loading ${names[0]} into ${this.name}`);
      if (this.name === "podman") {
        // podman reads an OCI layout directory as it is (no tar to write and
        // for podman to unpack again): the staged, verified layout holds
        // exactly this one image.
        await runToolOk(this.binary, this.#args("load", "--input", tmp));
      } else {
        await runToolOk(this.binary, this.#args("load"), {
          stdin: layoutTarStream(layout, blobs),
        });
      }
      const configDigest = staged.manifest.config.digest;
      const accepted = new Set([configDigest, staged.descriptor.digest]);
      // Name the loaded image explicitly by its ID (load may name it otherwise).
      const loaded = await this.#inspectRef(configDigest) ??
        await this.#inspectRef(names[0]);
      if (!loaded || !accepted.has(loaded.imageId)) {
        throw new RuntimeError(`${this.name} did not keep image ${configDigest} after load`);
      }
      for (const name of names) {
        await runToolOk(this.binary, this.#args("tag", loaded.imageId, name));
      }
      const got = await this.inspect(names[0]);
      if (!got || !accepted.has(got.imageId)) {
        throw new RuntimeError(
          `${this.name} holds ${got?.imageId ?? "nothing"} under ${
            names[0]
          }, expected ${configDigest}`,
        );
      }
      return { ...got, imageId: configDigest, manifestDigest: staged.descriptor.digest };
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  }

  async #inspectRef(ref: string): Promise<InstalledImage | undefined> {
    const out = await runTool(
      this.binary,
      this.#args("image", "inspect", "--format", "{{json .}}", ref),
    );
    if (out.code !== 0) {
      if (/no such|not known|not found|unknown/i.test(out.stderr)) return undefined;
      throw new RuntimeError(
        `${this.binary} image inspect failed: ${out.stderr.trim().split("\n").pop()}`,
      );
    }
    let doc: { Id?: unknown; Digest?: unknown; RepoDigests?: unknown };
    try {
      const text = out.stdout.trim();
      const parsed = JSON.parse(text.startsWith("[") ? text : `[${text.split("\n")[0]}]`);
      doc = Array.isArray(parsed) ? parsed[0] : parsed;
    } catch {
      throw new RuntimeError(`${this.binary} image inspect printed something that is not JSON`);
    }
    if (typeof doc?.Id !== "string" || !/^(sha256:)?[0-9a-f]{64}$/.test(doc.Id)) {
      throw new RuntimeError(`${this.binary} image inspect gave no image ID for ${ref}`);
    }
    return {
      name: ref,
      imageId: normalizeId(doc.Id),
      ...(typeof doc.Digest === "string" && doc.Digest.startsWith("sha256:")
        ? { manifestDigest: doc.Digest }
        : {}),
    };
  }

  inspect(name: string): Promise<InstalledImage | undefined> {
    return this.#inspectRef(name);
  }
}
