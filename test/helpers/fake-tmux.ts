/**
 * A strict fake TmuxRunner for unit tests of code above src/tmux/runner.ts (the tmux client, and
 * services given a TmuxClient built on it). Each expected call names its exact argv, in order; the
 * first call that differs, or any call beyond the script, throws and is remembered, so `verify()`
 * fails even when the code under test swallowed the error. Integration tests use real tmux on a
 * private socket (test/helpers/tmux.ts); this is for the branches real tmux cannot be made to take
 * on demand (a given stderr, a failing paste) and for pinning exactly which commands run.
 */
import { TmuxError } from '../../src/tmux/errors.js';
import type { RunOptions, RunResult, TmuxRunner } from '../../src/tmux/runner.js';

/** One argv element: the exact string, or a pattern for values the code makes up (buffer names). */
export type ArgMatcher = string | RegExp;

export interface ExpectedCall {
  argv: readonly ArgMatcher[];
  /** When given, stdin must be exactly this. */
  input?: string;
  /** Answer: stdout (default ''), or tmux failing with this exit status and stderr. */
  stdout?: string;
  fail?: { status: number | null; stderr: string };
}

export interface RecordedCall {
  argv: readonly string[];
  input: string | undefined;
}

export class UnexpectedTmuxCall extends Error {}

function matches(expected: readonly ArgMatcher[], actual: readonly string[]): boolean {
  return expected.length === actual.length && expected.every((m, i) => (typeof m === 'string' ? m === actual[i] : m.test(actual[i]!)));
}

function show(argv: readonly ArgMatcher[]): string {
  return argv.map((a) => (typeof a === 'string' ? JSON.stringify(a) : String(a))).join(' ');
}

export class FakeTmux {
  readonly calls: RecordedCall[] = [];
  private readonly script: ExpectedCall[] = [];
  private next = 0;
  private readonly problems: string[] = [];

  /** Appends expected calls, answered in order. */
  expect(...calls: ExpectedCall[]): this {
    this.script.push(...calls);
    return this;
  }

  readonly runner: TmuxRunner = async (argv: readonly string[], options: RunOptions = {}): Promise<RunResult> => {
    const input = options.input === undefined ? undefined : String(options.input);
    this.calls.push({ argv: [...argv], input });
    const expected = this.script[this.next];
    const problem =
      expected === undefined
        ? `unexpected tmux call #${this.calls.length} (script has ${this.script.length}): ${show(argv)}`
        : !matches(expected.argv, argv)
          ? `tmux call #${this.calls.length}: expected ${show(expected.argv)}\n  got ${show(argv)}`
          : expected.input !== undefined && expected.input !== input
            ? `tmux call #${this.calls.length} (${show(argv)}): expected stdin ${JSON.stringify(expected.input)}, got ${JSON.stringify(input)}`
            : null;
    if (problem !== null) {
      this.problems.push(problem);
      throw new UnexpectedTmuxCall(problem);
    }
    this.next++;
    await Promise.resolve(); // answer asynchronously, as the real runner does
    if (expected!.fail) throw new TmuxError(argv, expected!.fail.status, expected!.fail.stderr);
    return { stdout: expected!.stdout ?? '', stderr: '' };
  };

  /** Throws unless every expected call was made and no other call was. */
  verify(): void {
    const unused = this.script.slice(this.next).map((c) => `  ${show(c.argv)}`);
    const report = [...this.problems, ...(unused.length > 0 ? [`${unused.length} expected tmux call(s) never made:\n${unused.join('\n')}`] : [])];
    if (report.length > 0) throw new Error(report.join('\n'));
  }
}
