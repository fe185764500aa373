/**
 * Shell completion scripts (bash, zsh, fish) from the command specs:
 * command names, each command's options and the global ones.
 *
 * @module
 */

import { GLOBAL_OPTIONS, type OptionSpec, PROGRAM } from "./command.ts";

/** What completion needs to know about one command. */
export interface CompletionCommand {
  name: string;
  summary: string;
  options: Record<string, OptionSpec>;
}

/** The shells supported. */
export const SHELLS = ["bash", "zsh", "fish"] as const;

const FN = "_dangerzone_image";

function flags(options: Record<string, OptionSpec>): string {
  return Object.entries(options).flatMap(([n, s]) => [
    `--${n}`,
    ...(s.short ? [`-${s.short}`] : []),
  ]).join(" ");
}

function quoteFish(s: string): string {
  return `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

function bash(commands: CompletionCommand[]): string {
  const valued = Object.entries({
    ...GLOBAL_OPTIONS,
    ...Object.assign({}, ...commands.map((c) => c.options)),
  })
    .filter(([, s]) => (s as OptionSpec).type === "string")
    .flatMap((
      [n, s],
    ) => [`--${n}`, ...((s as OptionSpec).short ? [`-${(s as OptionSpec).short}`] : [])]);
  return `# ${PROGRAM} completion for bash: source <(${PROGRAM} completion bash)
${FN}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" i w skip=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if [[ -n "$skip" ]]; then skip=""; continue; fi
    case " ${valued.join(" ")} " in *" $w "*) skip=1; continue ;; esac
    case "$w" in -*) ;; *) cmd="$w"; break ;; esac
  done
  local opts="${flags(GLOBAL_OPTIONS)}"
  case "$cmd" in
${commands.map((c) => `    ${c.name}) opts="$opts ${flags(c.options)}" ;;`).join("\n")}
  esac
  if [[ -z "$cmd" && "$cur" != -* ]]; then
    COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(" ")} help" -- "$cur"))
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F ${FN} ${PROGRAM}
`;
}

function fish(commands: CompletionCommand[]): string {
  const line = (cond: string, n: string, s: OptionSpec) =>
    `complete -c ${PROGRAM}${cond} -l ${n}${s.short ? ` -s ${s.short}` : ""}${
      s.type === "string" ? " -r" : ""
    } -d ${quoteFish(s.description)}`;
  return [
    `# ${PROGRAM} completion for fish: ${PROGRAM} completion fish | source`,
    `complete -c ${PROGRAM} -f -n __fish_use_subcommand -a help -d 'show a command\\'s options'`,
    ...commands.map((c) =>
      `complete -c ${PROGRAM} -f -n __fish_use_subcommand -a ${c.name} -d ${quoteFish(c.summary)}`
    ),
    ...Object.entries(GLOBAL_OPTIONS).map(([n, s]) => line("", n, s)),
    ...commands.flatMap((c) =>
      Object.entries(c.options).map(([n, s]) =>
        line(` -n '__fish_seen_subcommand_from ${c.name}'`, n, s)
      )
    ),
    "",
  ].join("\n");
}

/** The completion script for `shell`. */
export function completionScript(
  shell: typeof SHELLS[number],
  commands: CompletionCommand[],
): string {
  if (shell === "fish") return fish(commands);
  if (shell === "bash") return bash(commands);
  // zsh runs the bash function through bashcompinit.
  return `#compdef ${PROGRAM}
# ${PROGRAM} completion for zsh: source <(${PROGRAM} completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bash(commands).split("\n").slice(1).join("\n")}`;
}
