/**
 * Progress on a real terminal: `upgrade` runs in tmux at 40 and 80
 * columns over a slowed link; the screen (wrapped rows joined again) shows
 * no progress line wider than the terminal, and each phase ends on a clean
 * summary line.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startSigningLab } from "./helpers/signed_images.ts";
import { startBlobMeter } from "./helpers/blob_meter.ts";
import { pushBigImage } from "../bench/helpers/big_image.ts";
import { onPath } from "../lib/runtime/exec.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PHASE = /^(fetch|verify|unpack|load|write)\b/;

async function tmux(socket: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("tmux", { args: ["-L", socket, ...args], stdin: "null" })
    .output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name: "progress: no wrapped progress line in tmux at 40 and 80 columns",
  ignore: !(await onPath("tmux")),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const repo = "dz/tty";
    const big = await pushBigImage(lab.client, repo, "latest", { layerMiB: 2 });
    await lab.sign(repo, big.digest);
    await using meter = startBlobMeter(lab.reg.url, { rate: 4 * 1024 * 1024 });
    for (const width of [40, 80]) {
      const socket = `dz-tty-${Deno.pid}-${width}`;
      const data = join(lab.dir, `data-${width}`);
      const cmd = [
        Deno.execPath(),
        ...["run", "-A", "--quiet", join(ROOT, "mod.ts"), "upgrade", `${meter.host}/${repo}`],
        ...[...lab.trustArgs, "--data-dir", data],
        ...["--runtime", `oci:${join(lab.dir, `store-${width}`)}`],
        ...["--signed-identity", `${lab.reg.host}/${repo}`],
      ].map((a) => `'${a}'`).join(" ");
      await tmux(
        socket,
        "new-session",
        "-d",
        "-x",
        String(width),
        "-y",
        "20",
        `NO_COLOR=1 ${cmd}; echo EXIT=$?; sleep 60`,
      );
      try {
        let screen = "";
        for (let i = 0; i < 300 && !/EXIT=\d+/.test(screen); i++) {
          await new Promise((r) => setTimeout(r, 200));
          screen = await tmux(socket, "capture-pane", "-p", "-J", "-S", "-200");
        }
        assert.match(screen, /EXIT=0/, screen);
        const lines = screen.split("\n");
        const progress = lines.filter((l) => PHASE.test(l));
        assert.ok(progress.some((l) => /^fetch: done/.test(l)), screen);
        for (const l of progress) {
          assert.ok([...l.trimEnd()].length < width, `${width} columns: wrapped '${l}'`);
        }
      } finally {
        await tmux(socket, "kill-server");
      }
    }
  },
});
