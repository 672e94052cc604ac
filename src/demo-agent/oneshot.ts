/**
 * The demo one-shot CLI (profile `demo-oneshot`): a stand-in for `claude -p <prompt> --output-format
 * json` that needs no account. It reads the prompt, sleeps, and prints one JSON object as Claude
 * Code does (result, is_error, usage with cache figures, total_cost_usd). Words in the prompt change what it does, so
 * tests can make a run fail, hang or crash:
 *
 *   [sleep 300ms]  work this long (default 100ms)
 *   [fail]         print an error result and exit 1
 *   [fail-until N] fail while HORNETS_TASK_ATTEMPT < N (a task that succeeds on a retry)
 *   [hang]         never finish, with a child process in the same group (for the group kill)
 *   [crash]        die by SIGKILL without printing anything
 *   [garbage]      print text that is not JSON and exit 0
 *
 * Like `claude -p`, it runs the hooks of .claude/settings.local.json in its working directory
 * (SessionStart, UserPromptSubmit, then Stop or StopFailure at the end), so a worker run's hooks
 * can be tested without an account.
 *
 * HORNETS_DEMO_RUN_LOG, when set, names a file that gets a line when a run starts and when it ends
 * ("start|end <task> <attempt> <epoch ms>"), so tests can see how many ran at once.
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { parseDuration } from '../domain/duration.js';
import { costOf, defaultPrices } from '../domain/usage.js';
import { loadHookConfig, runHooks } from './hooks.js';

export interface OneShotOptions {
  prompt: string;
  env: NodeJS.ProcessEnv;
  write: (text: string) => void;
}

function directive(prompt: string, name: string): string | null {
  const m = new RegExp(`\\[${name}(?: ([^\\]]*))?\\]`).exec(prompt);
  return m ? (m[1] ?? '') : null;
}

/** About the size of Claude Code's own system prompt and tools. */
export const DEMO_SYSTEM_TOKENS = 12_000;
/** Priced as this model, as claude -p prices what it used. */
const DEMO_MODEL = 'claude-sonnet-4-5';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one demo turn; resolves with the exit code (never resolves for [hang]; [crash] kills the process). */
export async function runDemoOneShot(o: OneShotOptions): Promise<number> {
  const started = Date.now();
  const attempt = Number(o.env.HORNETS_TASK_ATTEMPT ?? '1');
  const runLog = o.env.HORNETS_DEMO_RUN_LOG;
  const note = (kind: 'start' | 'end') => {
    if (runLog) appendFileSync(runLog, `${kind} ${o.env.HORNETS_TASK_ID ?? '?'} ${attempt} ${Date.now()}\n`);
  };
  note('start');
  const cwd = process.cwd();
  const hooks = loadHookConfig(cwd);
  const common = { session_id: `demo-${process.pid}-${started}`, transcript_path: '', permission_mode: 'default', cwd };
  await runHooks(hooks, 'SessionStart', { ...common, source: 'startup' }, cwd, 'startup');
  await runHooks(hooks, 'UserPromptSubmit', { ...common, prompt: o.prompt }, cwd);
  const sleepArg = directive(o.prompt, 'sleep');
  await sleep(sleepArg ? parseDuration(sleepArg, '[sleep]') : 100);

  if (directive(o.prompt, 'hang') !== null) {
    // A child in our process group: only a kill of the whole group ends it.
    spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
    await new Promise(() => undefined);
  }
  if (directive(o.prompt, 'crash') !== null) {
    note('end');
    process.kill(process.pid, 'SIGKILL');
  }
  if (directive(o.prompt, 'garbage') !== null) {
    o.write('this is not JSON\n');
    note('end');
    return 0;
  }
  const until = directive(o.prompt, 'fail-until');
  const fail = directive(o.prompt, 'fail') !== null || (until !== null && attempt < Number(until));
  const result = fail ? `demo failure on attempt ${attempt}` : `echo: ${o.prompt}`;
  // Figures as claude -p gives them, so the console, `tasks` and the metrics show some: a token per
  // character, and a system prompt the first run writes to the cache and a retry reads from it.
  const tokens = {
    input: o.prompt.length,
    output: result.length,
    cacheCreation: attempt === 1 ? DEMO_SYSTEM_TOKENS : 0,
    cacheRead: attempt === 1 ? 0 : DEMO_SYSTEM_TOKENS,
  };
  const out = {
    type: 'result',
    subtype: fail ? 'error_during_execution' : 'success',
    is_error: fail,
    duration_ms: Date.now() - started,
    num_turns: 1,
    result,
    session_id: `demo-${process.pid}-${started}`,
    total_cost_usd: Number(costOf(tokens, DEMO_MODEL, defaultPrices).toFixed(6)),
    usage: { input_tokens: tokens.input, output_tokens: tokens.output, cache_creation_input_tokens: tokens.cacheCreation, cache_read_input_tokens: tokens.cacheRead },
  };
  await runHooks(hooks, fail ? 'StopFailure' : 'Stop', { ...common, stop_hook_active: false, last_assistant_message: result }, cwd);
  o.write(`${JSON.stringify(out)}\n`);
  note('end');
  return fail ? 1 : 0;
}

/** The `hornets-tui demo-oneshot -p <prompt>` entry. */
/** All of standard input (the prompt of a worker run whose profile sends it there). */
export async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function demoOneShotMain(prompt: string): Promise<never> {
  const code = await runDemoOneShot({ prompt, env: process.env, write: (t) => process.stdout.write(t) });
  process.stdout.write('', () => process.exit(code));
  return new Promise<never>(() => undefined);
}
