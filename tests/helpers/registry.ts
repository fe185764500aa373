/**
 * Real OCI registry for tests: runs the CNCF distribution registry
 * (`/usr/bin/docker-registry`, Debian package `docker-registry`) on a free
 * loopback port with a temporary filesystem storage, optionally behind
 * htpasswd (bcrypt) or token auth (see `token_server.ts`).
 *
 * ```ts
 * await using reg = await startRegistry({ auth: "htpasswd" });
 * const res = await fetch(`${reg.url}/v2/`, { headers: reg.basicAuthHeader() });
 * ```
 *
 * Also {@linkcode skopeoInspect} for cross-checking what a registry serves.
 *
 * @module
 */

import { startTokenServer, type TokenServer } from "./token_server.ts";

/** Registry auth mode. */
export type RegistryAuth = "none" | "htpasswd" | "token";

/** Options for {@linkcode startRegistry}. */
export interface RegistryOptions {
  /** Auth mode (default "none"). */
  auth?: RegistryAuth;
  /** Username for htpasswd / token auth (default "dz-user"). */
  username?: string;
  /** Password for htpasswd / token auth (default: random). */
  password?: string;
  /** Token mode: grant anonymous pulls (default true). */
  anonymousPull?: boolean;
  /** Port for the first attempt (default: a free one); later attempts pick free ports. */
  port?: number;
  /** Registry binary (default `$DZ_REGISTRY_BIN` or `/usr/bin/docker-registry`). */
  binary?: string;
}

/** A running registry; call {@linkcode TestRegistry.stop} or use `await using`. */
export interface TestRegistry extends AsyncDisposable {
  /** Base URL, `http://127.0.0.1:PORT`. */
  url: string;
  /** `127.0.0.1:PORT`, for image references. */
  host: string;
  /** Auth mode in force. */
  auth: RegistryAuth;
  /** Username (htpasswd and token modes). */
  username?: string;
  /** Password (htpasswd and token modes). */
  password?: string;
  /** Token server (token mode only). */
  tokenServer?: TokenServer;
  /** Storage root directory of the registry. */
  storageDir: string;
  /** File with the registry's stdout/stderr. */
  logFile: string;
  /** `{ authorization: "Basic …" }` for the configured user (empty in "none" mode). */
  basicAuthHeader(): Record<string, string>;
  /** The registry log so far. */
  readLog(): Promise<string>;
  /** Kill the registry (and token server) and remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_BIN = "/usr/bin/docker-registry";
const READY_TIMEOUT_MS = 30_000;
const PORT_ATTEMPTS = 5;
const POLL_TIMEOUT_MS = 2_000;
const INSTANCE_HEADER = "X-Dz-Test-Registry";

/** Pick a currently-free loopback TCP port (racy by nature; callers retry). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function tail(path: string, lines = 40): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

function yamlString(s: string): string {
  return JSON.stringify(s); // JSON strings are valid YAML double-quoted scalars
}

async function htpasswdLine(user: string, pass: string): Promise<string> {
  const out = await new Deno.Command("htpasswd", {
    args: ["-Bbn", user, pass],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`htpasswd failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  const line = new TextDecoder().decode(out.stdout).trim();
  if (!line.startsWith(`${user}:$2`)) throw new Error(`unexpected htpasswd output: ${line}`);
  return line + "\n";
}

function configYaml(
  port: number,
  storageDir: string,
  authBlock: string,
  instanceId: string,
): string {
  return [
    "version: 0.1",
    "log:",
    "  level: info",
    "  accesslog:",
    "    disabled: false",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${yamlString(storageDir)}`,
    "  delete:",
    "    enabled: true",
    "  maintenance:",
    "    uploadpurging:",
    "      enabled: false",
    "http:",
    `  addr: ${yamlString(`127.0.0.1:${port}`)}`,
    `  secret: ${yamlString(crypto.randomUUID())}`,
    "  headers:",
    "    X-Content-Type-Options: [nosniff]",
    `    ${INSTANCE_HEADER}: [${yamlString(instanceId)}]`,
    authBlock,
    "",
  ].join("\n");
}

/**
 * Poll `/v2/` until OUR registry answers: the response must carry this
 * instance's id header, so a different server that won a port race is not
 * mistaken for it.
 */
async function waitReady(
  url: string,
  instanceId: string,
  status: Promise<Deno.CommandStatus>,
): Promise<"ready" | "exited" | "timeout"> {
  let exited = false;
  const exit = status.then(() => (exited = true), () => (exited = true)).then(() =>
    "exited" as const
  );
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) return "exited";
    // Bounded per poll, and abandoned as soon as our process dies: something
    // else holding the port may accept connections and never answer.
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), POLL_TIMEOUT_MS);
    const poll = (async () => {
      try {
        const res = await fetch(`${url}/v2/`, { signal: ac.signal });
        await res.body?.cancel();
        return (res.status === 200 || res.status === 401) &&
          res.headers.get(INSTANCE_HEADER) === instanceId;
      } catch {
        return false; // not listening yet, or aborted
      }
    })();
    const outcome = await Promise.race([poll, exit]);
    ac.abort();
    clearTimeout(timer);
    await poll;
    if (outcome === true) return "ready";
    if (outcome === "exited") return "exited";
    await new Promise((r) => setTimeout(r, 50));
  }
  return exited ? "exited" : "timeout";
}

/**
 * Start a real distribution registry on `127.0.0.1:<free port>`.
 * Throws (with the tail of the registry log) if it does not come up.
 */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? "none";
  const binary = opts.binary ?? Deno.env.get("DZ_REGISTRY_BIN") ?? DEFAULT_BIN;
  const username = auth === "none" ? undefined : opts.username ?? "dz-user";
  const password = auth === "none"
    ? undefined
    : opts.password ?? `pw-${crypto.randomUUID().slice(0, 12)}`;

  const dir = await Deno.makeTempDir({ prefix: "dz-registry-" });
  const storageDir = `${dir}/storage`;
  const logFile = `${dir}/registry.log`;
  const configFile = `${dir}/config.yml`;
  await Deno.mkdir(storageDir);

  let tokenServer: TokenServer | undefined;
  let child: Deno.ChildProcess | undefined;
  let childStatus: Promise<Deno.CommandStatus> | undefined;

  const cleanup = async () => {
    if (child) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await childStatus;
      child = undefined;
    }
    if (tokenServer) await tokenServer.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    let authBlock = "";
    if (auth === "htpasswd") {
      const file = `${dir}/htpasswd`;
      await Deno.writeTextFile(file, await htpasswdLine(username!, password!));
      authBlock = [
        "auth:",
        "  htpasswd:",
        '    realm: "dz-test-registry"',
        `    path: ${yamlString(file)}`,
      ].join("\n");
    } else if (auth === "token") {
      tokenServer = await startTokenServer({
        username,
        password,
        anonymousPull: opts.anonymousPull,
      });
      const bundle = `${dir}/token-root.pem`;
      await Deno.writeTextFile(bundle, tokenServer.certPem);
      authBlock = [
        "auth:",
        "  token:",
        `    realm: ${yamlString(tokenServer.realm)}`,
        `    service: ${yamlString(tokenServer.service)}`,
        `    issuer: ${yamlString(tokenServer.issuer)}`,
        `    rootcertbundle: ${yamlString(bundle)}`,
      ].join("\n");
    } else if (auth !== "none") {
      throw new Error(`unknown registry auth mode: ${auth}`);
    }

    for (let attempt = 1;; attempt++) {
      const port = attempt === 1 && opts.port !== undefined ? opts.port : freePort();
      const url = `http://127.0.0.1:${port}`;
      const instanceId = crypto.randomUUID();
      await Deno.writeTextFile(configFile, configYaml(port, storageDir, authBlock, instanceId));
      await Deno.writeTextFile(logFile, `--- attempt ${attempt} on port ${port}\n`, {
        append: true,
      });
      // `exec` so the shell is replaced: the pid we kill is the registry itself,
      // and its output goes straight to the log file (no pipes to drain).
      child = new Deno.Command("/bin/sh", {
        args: ["-c", 'exec "$0" serve "$1" >>"$2" 2>&1', binary, configFile, logFile],
        // distribution reads REGISTRY_* variables as configuration (e.g. the
        // REGISTRY_AUTH_FILE a login test sets would become `auth.file`).
        clearEnv: true,
        env: Object.fromEntries(
          Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("REGISTRY_")),
        ),
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      childStatus = child.status;
      const state = await waitReady(url, instanceId, childStatus);
      if (state === "ready") {
        const host = `127.0.0.1:${port}`;
        let stopped = false;
        const stop = async () => {
          if (stopped) return;
          stopped = true;
          await cleanup();
        };
        return {
          url,
          host,
          auth,
          username,
          password,
          tokenServer,
          storageDir,
          logFile,
          basicAuthHeader: (): Record<string, string> =>
            username === undefined
              ? {}
              : { authorization: `Basic ${btoa(`${username}:${password}`)}` },
          readLog: () => Deno.readTextFile(logFile),
          stop,
          [Symbol.asyncDispose]: stop,
        };
      }
      if (state === "timeout") child.kill("SIGKILL");
      await childStatus;
      child = undefined;
      const log = await tail(logFile);
      const clash = /address already in use/i.test(log.split(`--- attempt ${attempt}`).pop()!);
      if (state === "exited" && clash && attempt < PORT_ATTEMPTS) continue;
      throw new Error(
        `docker-registry (${binary}) did not start on ${url} (${state}); log tail:\n${log}`,
      );
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Options for {@linkcode skopeoInspect}. */
export interface SkopeoInspectOptions {
  /** `--tls-verify` (default false: test registries are plain HTTP). */
  tlsVerify?: boolean;
  /** `--raw`: return the manifest exactly as served, parsed. */
  raw?: boolean;
  /** `user:password` for `--creds`. */
  creds?: string;
}

/**
 * `skopeo inspect [--raw] --tls-verify=… docker://REF`, parsed as JSON.
 * `ref` may be given with or without the `docker://` prefix.
 */
export async function skopeoInspect(
  ref: string,
  opts: SkopeoInspectOptions = {},
): Promise<Record<string, unknown>> {
  const args = ["inspect", `--tls-verify=${opts.tlsVerify ?? false}`];
  if (opts.raw) args.push("--raw");
  if (opts.creds !== undefined) args.push("--creds", opts.creds);
  else args.push("--no-creds");
  args.push(ref.startsWith("docker://") ? ref : `docker://${ref}`);
  const out = await new Deno.Command("skopeo", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`skopeo ${args.join(" ")} failed: ${dec.decode(out.stderr).trim()}`);
  }
  return JSON.parse(dec.decode(out.stdout));
}
