/**
 * The command lines the lean entry (src/cli-hot.ts) answers itself: `send`, `queue list` (`ls`) and
 * `status` written in the plain forms below. Anything else, or anything unusual in them (help, an
 * unknown or repeated option, a value that starts with "-", `send --now`, a missing or extra
 * argument), is left to the full CLI (commander), so every message and exit code stays its own.
 * As in commander, options may follow the arguments and `--` makes the rest arguments.
 */

export type HotInvocation =
  | { command: 'send'; config?: string; agent: string; words: string[]; options: { priority?: string; key?: string; ttl?: string; from?: string; json?: boolean } }
  | { command: 'list'; config?: string; agent?: string; options: { state?: string; all?: boolean; limit?: string; json?: boolean } }
  | { command: 'status'; config?: string; options: { json?: boolean } };

interface OptionSpec {
  /** Key in the options object. */
  key: string;
  takesValue: boolean;
}

const globalOptions: Record<string, OptionSpec> = { '-c': { key: 'config', takesValue: true }, '--config': { key: 'config', takesValue: true } };

const commandOptions: Record<'send' | 'list' | 'status', Record<string, OptionSpec>> = {
  send: {
    '-p': { key: 'priority', takesValue: true },
    '--priority': { key: 'priority', takesValue: true },
    '-k': { key: 'key', takesValue: true },
    '--key': { key: 'key', takesValue: true },
    '-t': { key: 'ttl', takesValue: true },
    '--ttl': { key: 'ttl', takesValue: true },
    '--from': { key: 'from', takesValue: true },
    '--json': { key: 'json', takesValue: false },
  },
  list: {
    '-s': { key: 'state', takesValue: true },
    '--state': { key: 'state', takesValue: true },
    '-a': { key: 'all', takesValue: false },
    '--all': { key: 'all', takesValue: false },
    '-n': { key: 'limit', takesValue: true },
    '--limit': { key: 'limit', takesValue: true },
    '--json': { key: 'json', takesValue: false },
  },
  status: { '--json': { key: 'json', takesValue: false } },
};

/** `args` is argv without node and the script. Null: not ours, run the full CLI. */
export function parseHotArgv(args: readonly string[]): HotInvocation | null {
  const values = new Map<string, string | true>();
  const words: string[] = [];
  let command: 'send' | 'list' | 'status' | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--' && command !== null) {
      words.push(...args.slice(i + 1));
      break;
    }
    if (arg === '-' || !arg.startsWith('-')) {
      if (command === null) {
        if (arg === 'send' || arg === 'status') command = arg;
        else if (arg === 'queue' && (args[i + 1] === 'list' || args[i + 1] === 'ls')) {
          command = 'list';
          i++;
        } else return null;
      } else words.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = globalOptions[name] ?? (command !== null ? commandOptions[command][name] : undefined);
    if (!spec || values.has(spec.key)) return null;
    if (!spec.takesValue) {
      if (eq > 0) return null;
      values.set(spec.key, true);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || value.startsWith('-')) return null;
    values.set(spec.key, value);
  }
  const config = values.get('config') as string | undefined;
  values.delete('config');
  const opts = Object.fromEntries(values);
  switch (command) {
    // A `session:window` id for the agent is resolved by the full CLI (cli/agent-args.ts).
    case 'send':
      return words.length >= 1 && !words[0]!.includes(':') ? { command, config, agent: words[0]!, words: words.slice(1), options: opts } : null;
    case 'list':
      return words.length <= 1 && !words[0]?.includes(':') ? { command, config, agent: words[0], options: opts } : null;
    case 'status':
      return words.length === 0 ? { command, config, options: opts } : null;
    case null:
      return null;
  }
}
