/**
 * `deno task sigstore-local --out DIR [--port N]`: start the loopback Rekor +
 * Fulcio + TSA stand-in, write `DIR/trusted_root.json` and then `DIR/env`
 * (`REKOR_URL=…`, `FULCIO_URL=…`, `TSA_URL=…`, …), and serve until SIGTERM /
 * SIGINT.
 *
 * The programmatic API is {@linkcode startLocalSigstore}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startLocalSigstore } from "./local_sigstore/server.ts";

export { type LocalSigstore, startLocalSigstore } from "./local_sigstore/server.ts";

const USAGE = "usage: deno task sigstore-local --out DIR [--port N]";

/** Run the CLI; resolves with the exit code once the server stopped. */
export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: "string" },
        port: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.out) {
    console.error(`error: --out DIR is required\n${USAGE}`);
    return 2;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`error: --port must be an integer 0-65535\n${USAGE}`);
    return 2;
  }
  await Deno.mkdir(values.out, { recursive: true });
  let sigstore;
  try {
    sigstore = await startLocalSigstore({ port });
  } catch (e) {
    const why = e instanceof Deno.errors.AddrInUse ? `port ${port} is in use` : String(e);
    console.error(`error: cannot start the local Sigstore services: ${why}`);
    return 3;
  }
  const stop = () => void sigstore.close();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  try {
    await sigstore.writeOutDir(values.out);
    console.error(
      `sigstore-local: Rekor, Fulcio and TSA on ${sigstore.url}; env in ${values.out}/env`,
    );
    await sigstore.finished;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
    await sigstore.close();
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
