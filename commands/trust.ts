/**
 * `trust status`: which Sigstore trusted root commands use, where it comes
 * from, its TUF version and expiry. Offline: it reads the cache and the
 * embedded anchor only.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { trustFor } from "../lib/trust/from_options.ts";
import type { TrustState } from "../lib/trust/trust_source.ts";

const ORIGIN_TEXT: Record<TrustState["origin"], string> = {
  "file": "--trusted-root file",
  "tuf-cache": "TUF cache (verified from the anchor)",
  "tuf-refresh": "TUF repository (refreshed now)",
  "tuf-archive": "TUF chain from an archive",
  "embedded": "embedded in the program",
};

/** The human-readable report. */
export function formatTrust(s: TrustState): string {
  const lines = [
    `Sigstore trusted root: ${s.root.source}`,
    `  from:        ${ORIGIN_TEXT[s.origin]}`,
  ];
  if (s.repository) lines.push(`  repository:  ${s.repository}`);
  if (s.anchor) lines.push(`  anchor:      ${s.anchor.source} (TUF root v${s.anchor.version})`);
  if (s.tuf) {
    lines.push(
      `  TUF root:    v${s.tuf.rootVersion}, expires ${s.tuf.rootExpires}`,
      `  timestamp:   v${s.tuf.timestampVersion}, expires ${s.tuf.timestampExpires}`,
      `  fresh until: ${s.tuf.expires}${s.tuf.expired ? " (expired: 'upgrade' refreshes it)" : ""}`,
      `  cache:       ${s.tuf.cacheDir}`,
    );
  }
  const tlogs = (s.root.json.tlogs as unknown[] | undefined)?.length ?? 0;
  const cas = (s.root.json.certificateAuthorities as unknown[] | undefined)?.length ?? 0;
  lines.push(`  contents:    ${tlogs} transparency log key(s), ${cas} certificate authority(ies)`);
  return lines.join("\n");
}

/** The `trust` command. */
export const command = defineCommand({
  name: "trust",
  summary: "show which Sigstore trusted root is in use, from where, its version and expiry",
  usage: "trust status",
  description:
    "Reports the trusted root commands verify with: --trusted-root FILE, else the TUF chain cached in the data dir (refreshed by 'upgrade' and 'prepare-archive' when expired, or adopted from an archive by 'load-archive'), else the root embedded from @sigstore/tuf. Never uses the network.",
  positionals: { min: 1, max: 1, names: "status" },
  examples: ["dangerzone-image trust status", "dangerzone-image trust status --json"],
  permissions: "--allow-read=<data dir>[,<trusted root>] --allow-env",
  async run(ctx) {
    if (ctx.args[0] !== "status") {
      throw new UsageError(`unknown trust subcommand '${ctx.args[0]}'`, {
        hint: "run 'dangerzone-image trust status'",
      });
    }
    const s = await trustFor(ctx.global, "never", ctx.err);
    if (ctx.global.json) {
      ctx.out(JSON.stringify({
        ok: true,
        source: s.root.source,
        origin: s.origin,
        ...(s.repository ? { repository: s.repository } : {}),
        ...(s.anchor ? { anchor: s.anchor } : {}),
        ...(s.tuf ? { tuf: s.tuf } : {}),
      }));
    } else ctx.out(formatTrust(s));
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
