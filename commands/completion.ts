/**
 * `completion bash|zsh|fish`: print a shell completion script.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { completionScript, SHELLS } from "../lib/cli/completion.ts";
import { COMMANDS } from "../lib/cli/commands.ts";

/** The `completion` command. */
export const command = defineCommand({
  name: "completion",
  summary: "print a bash, zsh or fish completion script",
  usage: "completion bash|zsh|fish",
  description: [
    "bash: source <(dangerzone-image completion bash)   (or save it in ~/.local/share/bash-completion/completions/dangerzone-image)",
    "zsh:  source <(dangerzone-image completion zsh)",
    "fish: dangerzone-image completion fish > ~/.config/fish/completions/dangerzone-image.fish",
  ].join("\n"),
  positionals: { min: 1, max: 1, names: "SHELL (bash, zsh or fish)" },
  examples: ["source <(dangerzone-image completion bash)"],
  permissions: "none (loads every command's options)",
  async run(ctx) {
    const shell = ctx.args[0] as typeof SHELLS[number];
    if (!SHELLS.includes(shell)) {
      throw new UsageError(`no completion for '${ctx.args[0]}'`, { hint: "use bash, zsh or fish" });
    }
    const commands = [];
    for (const [name, entry] of Object.entries(COMMANDS)) {
      const { command } = await entry.load();
      commands.push({ name, summary: entry.summary, options: command.spec.options ?? {} });
    }
    const script = completionScript(shell, commands);
    if (ctx.global.json) ctx.out(JSON.stringify({ ok: true, shell, script }));
    else ctx.out(script);
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
