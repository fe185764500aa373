/**
 * `login`: check credentials against the registry, then store them in the
 * docker/podman auth file.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { AuthError, UsageError } from "../lib/errors/errors.ts";
import { authFilePath } from "../lib/config/paths.ts";
import { storeCredentials } from "../lib/registry/auth_file.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { normalizeRegistry } from "../lib/registry/reference.ts";

async function readStdin(): Promise<string> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.replace(/\r?\n$/, "");
}

/** The `login` command. */
export const command = defineCommand({
  name: "login",
  summary: "check and store registry credentials",
  usage: "login REGISTRY -u USER (--password-stdin | --password P)",
  options: {
    "username": { type: "string", short: "u", value: "USER", description: "user name" },
    "password": {
      type: "string",
      short: "p",
      value: "P",
      description: "password (prefer --password-stdin: arguments are visible to other users)",
    },
    "password-stdin": { type: "boolean", description: "read the password from standard input" },
  },
  globals: {
    authfile: "the credentials file to write (default: the one every command reads)",
    "insecure-registry": true,
    proxy: true,
  },
  env: {
    "REGISTRY_AUTH_FILE, DOCKER_CONFIG": "the credentials file (default for --authfile)",
    "HTTPS_PROXY, ALL_PROXY": "proxy for the check (never for loopback)",
  },
  positionals: { min: 1, max: 1, names: "REGISTRY" },
  examples: ['echo "$TOKEN" | dangerzone-image login ghcr.io -u me --password-stdin'],
  permissions:
    "--allow-net=<registry host> --allow-read=<auth file dir> --allow-write=<auth file dir> --allow-env",
  async run(ctx) {
    const registry = normalizeRegistry(ctx.args[0]);
    const username = ctx.options.username;
    if (!username) throw new UsageError("missing -u USER");
    const fromStdin = ctx.options["password-stdin"];
    const given = ctx.options.password;
    if (fromStdin && given !== undefined) {
      throw new UsageError("give --password or --password-stdin, not both");
    }
    if (!fromStdin && given === undefined) {
      throw new UsageError("missing password", { hint: "pipe it in with --password-stdin" });
    }
    if (given !== undefined) {
      ctx.err(
        "warning: --password is visible to other users of this machine; prefer --password-stdin",
      );
    }
    const password = fromStdin ? await readStdin() : given!;
    if (password === "") throw new UsageError("empty password");
    const client = new RegistryClient(registry, {
      insecureRegistries: ctx.global.insecureRegistries,
      proxy: ctx.global.proxy,
      budgetMs: ctx.global.timeoutSeconds === undefined
        ? undefined
        : ctx.global.timeoutSeconds * 1000,
      credentials: () => Promise.resolve({ username, password }),
    });
    try {
      await client.ping(); // authenticates (token exchange or Basic) before anything is saved
    } catch (e) {
      if (e instanceof AuthError) {
        throw new AuthError(`${registry} refused user '${username}' with this password`, {
          hint:
            "check the user name and password (for ghcr.io: a personal access token with read:packages); nothing was stored",
          cause: e,
        });
      }
      throw e;
    } finally {
      client.close();
    }
    const path = ctx.global.authFile ?? authFilePath(ctx.global.env);
    await storeCredentials(path, registry, username, password);
    if (ctx.global.json) {
      ctx.out(JSON.stringify({ ok: true, registry, username, authFile: path }));
    } else {
      ctx.out(`Login succeeded: ${username} at ${registry} (stored in ${path})`);
    }
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
