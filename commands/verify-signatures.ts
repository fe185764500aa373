/**
 * `verify-signatures`: verify a saved signature list for a digest, offline.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError, VerificationError } from "../lib/errors/errors.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { type SignatureReport, verifySignatureListText } from "../lib/signatures/verify.ts";
import { isDigest } from "../lib/digest/digest.ts";
import { readLocalText } from "../lib/fs/read_file.ts";

function reportJson(r: SignatureReport) {
  if (!r.ok) return { index: r.index + 1, ok: false, code: r.code, reason: r.reason };
  const v = r.result;
  return {
    index: r.index + 1,
    ok: true,
    digest: v.digest,
    dockerReference: v.dockerReference ?? null,
    logID: v.tlog?.logID ?? null,
    logIndex: v.tlog?.logIndex ?? null,
    integratedTime: v.tlog?.integratedTime ?? null,
    signer: v.signer,
  };
}

/** The `verify-signatures` command. */
export const command = defineCommand({
  name: "verify-signatures",
  summary: "verify a saved signature list for a digest, offline",
  usage: "verify-signatures FILE.json --digest sha256:\u2026",
  description:
    "FILE is a JSON list of signatures (Dangerzone's signature store) or the JSON lines `cosign download signature` prints (one object per line). Exit 0 only when every signature verifies.",
  options: {
    "digest": {
      type: "string",
      value: "sha256:HEX",
      description: "the image digest every signature must cover (required)",
    },
  },
  globals: { key: true, "trusted-root": true },
  positionals: { min: 1, max: 1, names: "FILE.json" },
  examples: [
    "dangerzone-image verify-signatures --key test.pub.key sigs.json --digest sha256:95b4\u2026",
  ],
  permissions: "--allow-read=<signature file>,<key>,<trusted root>",
  async run(ctx) {
    const digest = ctx.options.digest;
    if (typeof digest !== "string") {
      throw new UsageError("missing --digest", { hint: "pass --digest sha256:<64 hex digits>" });
    }
    if (!isDigest(digest)) {
      throw new UsageError(`--digest must be sha256:<64 lowercase hex digits>, not '${digest}'`);
    }
    const file = ctx.args[0];
    const key = await loadTrustedKey(ctx.global.key);
    const trustedRoot = await loadTrustedRoot(ctx.global.trustedRoot, ctx.global.env);
    const text = await readLocalText(file, { what: "signature list", limit: 64 * 1024 * 1024 });
    const { ok, reports } = verifySignatureListText(text, digest, { trustedRoot, key });
    if (reports.length === 0) {
      throw new VerificationError("NO_SIGNATURES", `${file} holds no signatures`, {
        hint: "an empty list never verifies",
      });
    }
    const failed = reports.filter((r) => !r.ok);
    if (ctx.global.json) {
      const verified = reports.flatMap((r) => r.ok ? [r.result] : []);
      ctx.out(JSON.stringify({
        ok,
        ...(ok ? {} : {
          error: {
            code: "NOT_VERIFIED",
            message: `${failed.length} of ${reports.length} signature(s) in ${file} do not verify`,
            hint: "every signature must verify; see results[] for each one's reason",
          },
        }),
        digest,
        key: { keyId: key.keyId, source: key.source },
        trustedRoot: trustedRoot.source,
        signatures: verified.length,
        tlog: verified.flatMap((v) =>
          v.tlog
            ? [{
              logID: v.tlog.logID,
              logIndex: v.tlog.logIndex,
              integratedTime: v.tlog.integratedTime,
            }]
            : []
        ),
        results: reports.map(reportJson),
      }));
    }
    for (const r of reports) {
      if (r.ok) {
        const t = r.result.tlog;
        if (!ctx.global.json) {
          ctx.out(
            `signature ${r.index + 1}: verified for ${digest}` +
              (t
                ? ` (Rekor log ${t.logID.slice(0, 16)}… index ${t.logIndex}, ${
                  new Date(t.integratedTime * 1000).toISOString()
                })`
                : ""),
          );
        }
      } else {
        ctx.err(`dangerzone-image verify-signatures: signature ${r.index + 1}: ${r.reason}`);
      }
    }
    if (!ok) return 1;
    if (!ctx.global.json) {
      ctx.out(`all ${reports.length} signature(s) verified with key ${key.keyId.slice(0, 16)}…`);
    }
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
