/**
 * podman and docker as runtimes, driven through their command lines
 * (`Deno.Command`, argument vectors only; `env` such as `DOCKER_HOST` or
 * `CONTAINERS_STORAGE_CONF` passed per command, never set process-wide).
 *
 * podman: the verified image is staged in a private OCI layout (every blob
 * checked against its digest and size as it is written; a mismatch aborts
 * before podman sees a byte) and pulled from there (`podman pull
 * oci:DIR`, which reads the directory in place). When the image was picked
 * from a signed index, the layout holds that index and podman selects the
 * platform itself (`--os/--arch/--variant`), so the digest podman reports
 * (`podman images IMAGE --format {{.Digest}}`, what Dangerzone looks its
 * signatures up by) is the signed index's, as after `podman pull
 * IMAGE@INDEX`. podman names such an image after the directory: that name
 * is removed once the image carries its own (see `podman_staging.ts`).
 *
 * docker: every Docker Engine (20.10 included) loads a docker-archive,
 * streamed from the source into `docker load` with every blob hashed on
 * the way (`docker_archive.ts`); the archive names the image, so no other
 * name appears.
 *
 * Both: the image is read back (`image inspect`); its ID must be the
 * manifest's config digest. (With Docker's containerd image store the ID
 * is the manifest digest, which is accepted too.)
 *
 * @module
 */

import type { Progress } from "../progress/progress.ts";
import { silentProgress } from "../progress/progress.ts";
import type { Manifest } from "../registry/client.ts";
import type { ImageManifest } from "../oci/media_types.ts";
import type { ImageSource } from "../image/source.ts";
import { OciLayout } from "../oci/layout.ts";
import { DigestMismatchError, RuntimeError, VerificationError } from "../errors/errors.ts";
import { isDigest, isSha256Hex, sha256Digest } from "../digest/digest.ts";
import type {
  ContainerRuntime,
  ContentCheck,
  InstalledImage,
  InstallOptions,
  RemovedImage,
} from "./runtime.ts";
import { repositoryOf } from "../signatures/signed_identity.ts";
import { stageImage } from "./stage.ts";
import { failureLine, runTool, type ToolOutput } from "./exec.ts";
import { parseImageIndex, parseImageManifest } from "../oci/manifest.ts";
import { makePodmanStagingDir, podmanLayoutName } from "./podman_staging.ts";
import { dockerArchiveStream } from "./docker_archive.ts";
import { checkDockerArchive } from "./export_check.ts";
import { readEnv } from "../config/paths.ts";

/** Options of {@linkcode CliRuntime}. */
export interface CliRuntimeOptions {
  /** Program to run (default: the runtime's name). */
  binary?: string;
  /** Global arguments put before every subcommand (e.g. `--storage-driver vfs`). */
  extraArgs?: string[];
  /** Where temporary layouts are staged (default: the system temp dir). */
  stagingDir?: string;
  /** Environment added to every command (e.g. `DOCKER_HOST`). */
  env?: Record<string, string>;
}

function normalizeId(id: string): string {
  return id.startsWith("sha256:") ? id : `sha256:${id}`;
}

/** A runtime driven through a docker-compatible command line. */
export class CliRuntime implements ContainerRuntime {
  readonly binary: string;
  readonly extraArgs: string[];
  readonly stagingDir?: string;
  readonly env?: Record<string, string>;

  constructor(readonly name: "podman" | "docker", options: CliRuntimeOptions = {}) {
    this.binary = options.binary ?? name;
    this.extraArgs = options.extraArgs ?? [];
    this.stagingDir = options.stagingDir;
    this.env = options.env;
  }

  /** Run `<binary> <extraArgs> sub args…`; resolves whatever the exit code. */
  #exec(
    sub: string,
    args: string[],
    stdin?: ReadableStream<Uint8Array>,
  ): Promise<ToolOutput> {
    return runTool(this.binary, [...this.extraArgs, sub, ...args], {
      ...(stdin ? { stdin } : {}),
      ...(this.env ? { env: this.env } : {}),
    });
  }

  /** Run and require success: the tool's own error line otherwise. */
  async #run(sub: string, args: string[], stdin?: ReadableStream<Uint8Array>): Promise<string> {
    const out = await this.#exec(sub, args, stdin);
    if (out.code !== 0) {
      throw new RuntimeError(`${this.name} ${sub} failed: ${failureLine(out.stderr, out.code)}`);
    }
    return out.stdout;
  }

  /** Where docker is told to connect (for messages). */
  #dockerHost(): string {
    // Without an env of its own, docker inherits this process's.
    return this.env?.DOCKER_HOST ?? readEnv("DOCKER_HOST") ?? "unix:///var/run/docker.sock";
  }

  async check(): Promise<void> {
    if (this.name === "docker") {
      const out = await this.#exec("version", ["--format", "{{.Server.Version}}"]);
      if (out.code !== 0 || out.stdout.trim() === "") {
        throw new RuntimeError(
          `docker: the Docker daemon at ${this.#dockerHost()} does not answer (${
            failureLine(out.stderr, out.code)
          })`,
          {
            hint:
              "start it ('sudo systemctl start docker'), point DOCKER_HOST at a running one, or choose another --runtime",
          },
        );
      }
      return;
    }
    const out = await this.#exec("info", ["--format", "{{.Store.GraphDriverName}}"]);
    if (out.code !== 0) {
      throw new RuntimeError(
        `podman does not work here: ${failureLine(out.stderr, out.code)}`,
        { hint: "run 'podman info' to see why, or choose another --runtime" },
      );
    }
  }

  async install(
    source: ImageSource,
    manifest: Manifest,
    names: string[],
    progress: Progress = silentProgress,
    options: InstallOptions = {},
  ): Promise<InstalledImage> {
    if (names.length === 0) throw new TypeError("install: no image name");
    if (sha256Digest(manifest.bytes) !== manifest.digest) {
      throw new DigestMismatchError(`manifest ${manifest.digest}: its bytes hash otherwise`);
    }
    const parsed = parseImageManifest(manifest.bytes, `manifest ${manifest.digest}`);
    const configDigest = parsed.config.digest;
    progress.note(`loading ${names[0]} into ${this.name}`);
    if (this.name === "podman") {
      await this.#podmanLoad(source, manifest, names, progress, options);
    } else {
      await this.#run("load", [], dockerArchiveStream(source, parsed, names, progress));
    }
    const accepted = new Set([configDigest, manifest.digest]);
    for (const name of names) {
      const got = await this.inspect(name);
      if (!got || !accepted.has(got.imageId)) {
        throw new RuntimeError(
          `${this.name} holds ${got?.imageId ?? "nothing"} under ${name}, expected ${configDigest}`,
        );
      }
    }
    const got = (await this.inspect(names[0]))!;
    return { ...got, imageId: configDigest, manifestDigest: manifest.digest };
  }

  async #podmanLoad(
    source: ImageSource,
    manifest: Manifest,
    names: string[],
    progress: Progress,
    options: InstallOptions,
  ): Promise<void> {
    const tmp = await makePodmanStagingDir(this.stagingDir);
    try {
      const layout = await OciLayout.openOrCreate(tmp);
      // A temporary layout, removed after the load: linked blobs need no fsync.
      const staged = await stageImage(source, manifest, layout, progress, { durable: false });
      let top = staged.descriptor;
      const select: string[] = [];
      if (options.index) {
        const index = options.index;
        if (sha256Digest(index.bytes) !== index.digest) {
          throw new DigestMismatchError(`index ${index.digest}: its bytes hash otherwise`);
        }
        const entry = parseImageIndex(index.bytes, `index ${index.digest}`).manifests
          .find((m) => m.digest === manifest.digest);
        if (!entry?.platform) {
          throw new DigestMismatchError(`index ${index.digest} does not list ${manifest.digest}`);
        }
        await layout.writeBlobBytes(index.bytes);
        top = { mediaType: index.mediaType, digest: index.digest, size: index.bytes.byteLength };
        select.push("--os", entry.platform.os, "--arch", entry.platform.architecture);
        if (entry.platform.variant) select.push("--variant", entry.platform.variant);
      }
      await layout.setRef("latest", top);
      const stagedName = podmanLayoutName(tmp);
      const configDigest = staged.manifest.config.digest;
      try {
        // A local directory needs no credentials: a missing $REGISTRY_AUTH_FILE must not matter.
        const loading = progress.start(`load ${names[0]} into podman`);
        try {
          await this.#run("pull", ["--quiet", "--authfile", "/dev/null", ...select, `oci:${tmp}`]);
        } catch (e) {
          loading.done(false);
          throw e;
        }
        loading.done(true);
        const loaded = await this.inspect(configDigest);
        if (!loaded || loaded.imageId !== configDigest) {
          throw new RuntimeError(`podman did not keep image ${configDigest} after loading it`);
        }
        for (const name of names) await this.#run("tag", [configDigest, name]);
      } finally {
        // The directory's name is no name of ours (it may not exist if the pull failed).
        if (!names.includes(stagedName)) await this.#exec("untag", [configDigest, stagedName]);
      }
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  }

  inspect(name: string): Promise<InstalledImage | undefined> {
    return this.#inspectRef(name);
  }

  /** The names (`RepoTags`) image `id` has, or undefined when the runtime does not hold it. */
  async #namesOf(id: string): Promise<string[] | undefined> {
    const out = await this.#exec("image", ["inspect", "--format", "{{json .RepoTags}}", id]);
    if (out.code !== 0) {
      if (/no such|not known|not found|unknown/i.test(out.stderr)) return undefined;
      throw new RuntimeError(
        `${this.name} image inspect failed: ${failureLine(out.stderr, out.code)}`,
      );
    }
    const names = JSON.parse(out.stdout.trim() || "[]") as unknown;
    return Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : [];
  }

  async removeImage(
    imageId: string,
    repository: string,
    keep: (name: string) => Promise<boolean> = () => Promise.resolve(false),
  ): Promise<RemovedImage> {
    const id = normalizeId(imageId);
    const names = await this.#namesOf(id);
    if (names === undefined) return { untagged: [], removed: false, keptFor: [] };
    const wanted = repositoryOf(repository) ?? repository;
    const mine: string[] = [];
    for (const n of names) if (repositoryOf(n) === wanted && !(await keep(n))) mine.push(n);
    const keptFor = names.filter((n) => !mine.includes(n));
    const untagged: string[] = [];
    for (const n of mine) {
      // Only while the name still points at this image (never untag the new one).
      const held = await this.#inspectRef(n);
      if (held?.imageId !== id) continue;
      if (this.name === "podman") await this.#run("untag", [id, n]);
      else await this.#run("rmi", ["--no-prune", n]);
      untagged.push(n);
    }
    if (keptFor.length > 0) return { untagged, removed: false, keptFor };
    const left = await this.#namesOf(id);
    if (left === undefined) return { untagged, removed: true, keptFor };
    if (left.length > 0) return { untagged, removed: false, keptFor: left };
    // Not forced: an image a container uses stays (the runtime refuses, the caller warns).
    await this.#run("rmi", [id]);
    return { untagged, removed: true, keptFor };
  }

  async #inspectRef(ref: string): Promise<InstalledImage | undefined> {
    const out = await this.#exec("image", ["inspect", "--format", "{{json .}}", ref]);
    if (out.code !== 0) {
      if (/no such|not known|not found|unknown/i.test(out.stderr)) return undefined;
      throw new RuntimeError(
        `${this.name} image inspect failed: ${failureLine(out.stderr, out.code)}`,
      );
    }
    let doc: { Id?: unknown; Digest?: unknown; Created?: unknown };
    try {
      const text = out.stdout.trim();
      const parsed = JSON.parse(text.startsWith("[") ? text : `[${text.split("\n")[0]}]`);
      doc = Array.isArray(parsed) ? parsed[0] : parsed;
    } catch {
      throw new RuntimeError(`${this.name} image inspect printed something that is not JSON`);
    }
    if (typeof doc?.Id !== "string" || !(isDigest(doc.Id) || isSha256Hex(doc.Id))) {
      throw new RuntimeError(`${this.name} image inspect gave no image ID for ${ref}`);
    }
    const digest = isDigest(doc.Digest) ? doc.Digest : undefined;
    const created = typeof doc.Created === "string" ? Date.parse(doc.Created) : NaN;
    return {
      name: ref,
      imageId: normalizeId(doc.Id),
      ...(digest ? { manifestDigest: digest, reportedDigest: digest } : {}),
      ...(Number.isNaN(created) ? {} : { created }),
    };
  }

  async verifyContent(
    name: string,
    manifest: ImageManifest,
    progress: Progress = silentProgress,
  ): Promise<ContentCheck> {
    const args = this.name === "podman" ? ["--format", "docker-archive", name] : [name];
    const child = new Deno.Command(this.binary, {
      args: [...this.extraArgs, "save", ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...(this.env ? { env: this.env } : {}),
    });
    let proc: Deno.ChildProcess;
    try {
      proc = child.spawn();
    } catch (e) {
      throw new RuntimeError(`cannot run ${this.binary}: ${(e as Error).message}`, { cause: e });
    }
    const stderr = new Response(proc.stderr).text();
    const transfer = progress.start(`verify ${name} re-read from ${this.name}`, 0);
    let result: ContentCheck;
    try {
      result = await checkDockerArchive(
        proc.stdout,
        manifest.config.digest,
        (n) => transfer.advance(n),
      );
    } catch (e) {
      transfer.done(false);
      await proc.stdout.cancel().catch(() => {});
      if (e instanceof VerificationError) {
        try {
          proc.kill();
        } catch {
          // already ended
        }
        await proc.status;
        await stderr.catch(() => "");
        throw e;
      }
      const status = await proc.status;
      if (!status.success) {
        throw new RuntimeError(
          `${this.name} save failed: ${failureLine(await stderr, status.code)}`,
        );
      }
      throw e;
    }
    const status = await proc.status;
    if (!status.success) {
      transfer.done(false);
      throw new RuntimeError(`${this.name} save failed: ${failureLine(await stderr, status.code)}`);
    }
    transfer.done(true);
    return result;
  }
}
