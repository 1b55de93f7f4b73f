import type { Command, Option } from 'commander';
import type { JobView } from '../../daemon/control/api-types.js';
import { ControlClient } from '../../daemon/control/client.js';
import { socketPath } from '../../daemon/paths.js';
import { resolveDataDir, type DataDirOptions } from '../context.js';
import { UsageError } from '../errors.js';

/** Commands whose first argument is a job name: completed from the daemon's job list. */
const JOB_COMMANDS = new Set(['run', 'kill', 'logs', 'history', 'pause', 'resume', 'backfill']);
/** Commands whose first argument is a file. */
const FILE_COMMANDS = new Set(['validate']);
/** Options whose value is a path (the rest take free text, not completed). */
const isPathOption = (o: Option): boolean => /file|dir/.test(o.flags);

export async function completionCommand(shell: string, program: Command): Promise<void> {
  if (shell === 'bash') process.stdout.write(bashScript(program));
  else if (shell === 'zsh') process.stdout.write(zshScript(program));
  else throw new UsageError(`completion: unknown shell '${shell}' (bash or zsh)`);
}

/** Job names, one per line; prints nothing (and exits 0) when no daemon answers quickly. */
export async function completeJobsCommand(opts: DataDirOptions): Promise<void> {
  let client: ControlClient | undefined;
  try {
    client = await ControlClient.connect(socketPath(resolveDataDir(opts)), 300);
    const jobs = await Promise.race([client.call('ls'), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000).unref())]);
    process.stdout.write(jobs.map((j) => j.name + '\n').join(''));
  } catch {
    // Completion must stay quiet: no daemon means no job names.
  } finally {
    client?.close();
  }
}

const visible = (program: Command): Command[] => program.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
const optionWords = (c: Command): string[] => [...c.options.flatMap((o) => [o.short, o.long].filter((f): f is string => !!f)), '-h', '--help'];
const takesValue = (o: Option): boolean => o.required || o.optional;

export function bashScript(program: Command): string {
  const commands = visible(program);
  const valueOpts = new Set<string>();
  const pathOpts = new Set<string>();
  for (const c of commands)
    for (const o of c.options.filter(takesValue))
      for (const f of [o.short, o.long].filter((x): x is string => !!x)) (isPathOption(o) ? pathOpts : valueOpts).add(f);
  const cases = commands.map((c) => `    ${c.name()}) opts="${optionWords(c).join(' ')}" ;;`).join('\n');
  return `# bash completion for dcron. Load it with:  eval "$(dcron completion bash)"
_dcron_jobs() {
  # Job names from the local daemon (honouring a --data-dir on the line); nothing when none answers.
  local dd=() i
  for ((i = 1; i < COMP_CWORD; i++)); do
    if [[ \${COMP_WORDS[i]} == --data-dir ]]; then dd=(--data-dir "\${COMP_WORDS[i+1]}"); fi
  done
  "\${COMP_WORDS[0]}" complete-jobs "\${dd[@]}" 2>/dev/null
}
_dcron() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local cmd="" i args=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    case \${COMP_WORDS[i]} in -*) ;; *) cmd=\${COMP_WORDS[i]}; break ;; esac
  done
  COMPREPLY=()
  if [[ -z $cmd ]]; then
    COMPREPLY=($(compgen -W "${commands.map((c) => c.name()).join(' ')} -h --help -V --version" -- "$cur"))
    return
  fi
  case $prev in
    ${[...pathOpts].join('|') || '--no-such-option'}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    ${[...valueOpts].join('|') || '--no-such-option'}) return ;;
  esac
  local opts=""
  case $cmd in
${cases}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    return
  fi
  # Count the positional arguments already given after the command.
  for ((i = i + 1; i < COMP_CWORD; i++)); do
    case \${COMP_WORDS[i]} in
      ${[...valueOpts, ...pathOpts].join('|') || '--no-such-option'}) ((i++)) ;;
      -*) ;;
      *) ((args++)) ;;
    esac
  done
  ((args == 0)) || return
  case $cmd in
    ${[...JOB_COMMANDS].join('|')}) COMPREPLY=($(compgen -W "$(_dcron_jobs)" -- "$cur")) ;;
    ${[...FILE_COMMANDS].join('|')}) COMPREPLY=($(compgen -f -- "$cur")) ;;
    completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")) ;;
  esac
}
complete -o default -F _dcron dcron
`;
}

/** Text safe inside a zsh _arguments/_describe single-quoted spec. */
const zq = (s: string): string => s.replace(/\s*\(.*$/, '').replace(/['[\]:\\]/g, '').replace(/\s+/g, ' ').trim();

export function zshScript(program: Command): string {
  const commands = visible(program);
  const describe = commands.map((c) => `    '${c.name()}:${zq(c.description())}'`).join('\n');
  const cases = commands
    .map((c) => {
      const specs = c.options.map((o) => {
        const names = [o.short, o.long].filter((f): f is string => !!f);
        const action = takesValue(o) ? (isPathOption(o) ? (/dir/.test(o.flags) ? ':dir:_files -/' : ':file:_files') : ':value: ') : '';
        const desc = `[${zq(o.description)}]${action}`;
        return names.length > 1 ? `'(${names.join(' ')})'{${names.join(',')}}'${desc}'` : `'${names[0]}${desc}'`;
      });
      const arg = JOB_COMMANDS.has(c.name()) ? `'1:job:_dcron_jobs'` : FILE_COMMANDS.has(c.name()) ? `'1:file:_files'` : c.name() === 'completion' ? `'1:shell:(bash zsh)'` : c.registeredArguments.length ? `'1:${zq(c.registeredArguments[0].name())}: '` : '';
      return `    ${c.name()}) _arguments -s ${[...specs, `'(- *)'{-h,--help}'[show help]'`, arg].filter(Boolean).join(' ')} ;;`;
    })
    .join('\n');
  return `#compdef dcron
# zsh completion for dcron. Load it (after compinit) with:  eval "$(dcron completion zsh)"
_dcron_jobs() {
  local -a jobs dd
  local i=\${words[(i)--data-dir]}
  (( i < \${#words} )) && dd=(--data-dir "\${words[i+1]}")
  jobs=(\${(f)"$(\${words[1]:-dcron} complete-jobs "\${dd[@]}" 2>/dev/null)"})
  _describe -t jobs 'job' jobs
}
_dcron() {
  local -a commands
  commands=(
${describe}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'dcron command' commands
    return
  fi
  local cmd=\${words[2]}
  words=(\${words[1]} \${words[3,-1]})
  (( CURRENT-- ))
  case $cmd in
${cases}
  esac
}
compdef _dcron dcron
`;
}
