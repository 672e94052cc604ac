/**
 * Composition root: parses argv, runs one command, and is the only place that turns errors into
 * exit codes (0 ok, 1 failure, 2 usage). Kept small on purpose: the command tree (commander) and
 * each command's modules load only when needed, so a CLI start costs little more than `node -e 0`.
 */
import { ExitCode } from './errors.js';
import { reportError } from './cli/report-error.js';
import { stdio, type Output } from './cli/output.js';
import { cliVersion } from './cli/version.js';
import { applyDotEnv } from './config/dotenv.js';
import type { CommanderError } from 'commander';

/** `hornets-tui --version` (or `-V`) alone: answered without building the command tree. */
function versionOnly(argv: string[]): boolean {
  return argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V');
}

/** Entry point used by bin/hornets-tui.js. Sets process.exitCode; never calls process.exit mid-write. */
export async function run(argv: string[], o: Output = stdio): Promise<number> {
  // Commands that finish but report a failure (`up` with an agent that did not start, `attach`
  // when tmux refused, `send --now` when a push failed) set process.exitCode themselves; overwriting
  // it with 0 here made those failures exit 0.
  process.exitCode = undefined;
  if (versionOnly(argv)) {
    // Commander writes the version to stdout, not through `o`: the same here.
    process.stdout.write(`${cliVersion()}\n`);
    process.exitCode = ExitCode.ok;
    return ExitCode.ok;
  }
  // The project's .env (the seeds' settings file) before anything reads the environment.
  applyDotEnv(argv.slice(2));
  const { buildProgram, CommanderError: commanderError } = await import('./cli/program.js');
  const program = buildProgram(o, {
    benchFile: process.env.HORNETS_TUI_BENCH || undefined,
    noColor: process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '',
  });
  let code: number = ExitCode.ok;
  try {
    await program.parseAsync(argv);
    const set = Number(process.exitCode ?? ExitCode.ok);
    if (set !== ExitCode.ok) code = set;
  } catch (err) {
    code = exitCodeFor(err, o, commanderError);
  }
  process.exitCode = code;
  return code;
}

/** `commanderError` is passed in: the class lives in the lazily loaded command tree. */
function exitCodeFor(err: unknown, o: Output, commanderError: typeof CommanderError): number {
  if (err instanceof commanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.ok;
    // `commander.help` is help shown because a subcommand was missing (`hornets-tui queue`): a usage error.
    if (err.code === 'commander.help') return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    return ExitCode.usage; // commander already printed the message
  }
  return reportError(err, o, Boolean(process.env.HORNETS_DEBUG));
}
