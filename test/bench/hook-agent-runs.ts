/**
 * One-shot runs of the real agent CLIs for bench:hooks: `claude -p`, `codex exec` and `gemini -p`,
 * each against its scripted stand-in API answering a fixed number of shell tool rounds, with one
 * PostToolUse-style hook configuration. A run returns the gaps between consecutive turn requests
 * reaching the stand-in (one gap = one tool round as the CLI performs it: tool, hooks, its own work).
 *
 * The set-up of each CLI (offline provider, settings, trust) is the e2e harnesses' own
 * (test/helpers/agent-cli-setup.ts); hooks are trusted the way a user's approval would be (Codex:
 * trust entries in config.toml; Gemini: the folder in trustedFolders.json), never bypassed.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeApi } from '../../scripts/fake-messages-api.js';
import { withOurs, type HookTransport, type Settings } from '../../src/hooks/installer.js';
import { codexHooksFile, codexTrustHash, installCodexHooks, writeTrust } from '../../src/hooks/codex-installer.js';
import { installGeminiHooks, trustWorktree } from '../../src/hooks/gemini-installer.js';
import { agentCli } from '../helpers/agent-clis.js';
import { CLAUDE_LEAKS, CODEX_LEAKS, GEMINI_LEAKS, codexConfigToml, codexKeyEnv, geminiApiEnv, geminiUserSettings, unsetMatching } from '../helpers/agent-cli-setup.js';
import { startFakeResponsesApi, type FakeResponsesApi, type RecordedRequest } from '../helpers/fake-responses-api.js';
import { startFakeGeminiApi, type FakeGeminiApi, type GeminiRequest } from '../helpers/fake-gemini-api.js';

export type AgentCliName = 'claude' | 'codex' | 'gemini';
export const agentCliNames: readonly AgentCliName[] = ['claude', 'codex', 'gemini'];

/** What runs after each tool: nothing, one command hook, or hornets' whole hook set. */
export type HookChoice = { kind: 'none' } | { kind: 'command'; command: string } | { kind: 'hornets'; transport: HookTransport };

export interface AgentRunner {
  cli: AgentCliName;
  /** The binary it runs. */
  binary: string;
  /** Whether hornets' http hook transport applies (Claude Code only). */
  httpHooks: boolean;
  /** Lays out one configuration's directory (`dir`, empty) with its hooks. */
  setup(dir: string, hooks: HookChoice): void;
  /** One run of `rounds` tool rounds in a configuration's directory; the gaps between turn requests. */
  run(dir: string, env: NodeJS.ProcessEnv, rounds: number): Promise<number[]>;
  close(): Promise<void>;
}

const PROMPT = 'Run the echo rounds.';
const HOOK_TIMEOUT_S = 15;

/** Runs a CLI to its end (killed after 120 s); resolves with its exit code and output for errors. */
function runToEnd(binary: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const child = spawn(binary, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function gapsOf(at: number[], rounds: number, what: string, code: number | null, output: string): number[] {
  if (code !== 0 || at.length !== rounds + 1) throw new Error(`${what} exited ${code} after ${at.length}/${rounds + 1} turn requests: ${output.slice(-2000)}`);
  return at.slice(1).map((t, i) => t - at[i]!);
}

const withEnv = (env: NodeJS.ProcessEnv, extra: Record<string, string | undefined>): NodeJS.ProcessEnv => {
  const out = { ...env, ...extra };
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out;
};

// ---- Claude Code ------------------------------------------------------------------------------

/** Fake but well-formed: Claude Code remembers the approval by the key's last 20 characters. */
const CLAUDE_KEY = `sk-ant-api03-hornets-bench-${'x'.repeat(40)}-0123456789abcdefghij`;

function claudeRunner(binary: string, parent: string): AgentRunner {
  const home = join(parent, 'claude-home');
  const trusted: string[] = [];
  const writeHome = () => {
    mkdirSync(home, { recursive: true });
    writeFileSync(
      join(home, '.claude.json'),
      JSON.stringify({
        hasCompletedOnboarding: true,
        customApiKeyResponses: { approved: [CLAUDE_KEY.slice(-20)], rejected: [] },
        projects: Object.fromEntries(trusted.map((d) => [d, { hasTrustDialogAccepted: true, allowedTools: [] }])),
      }),
    );
  };
  return {
    cli: 'claude',
    binary,
    httpHooks: true,
    setup(dir, hooks) {
      const settings: Settings =
        hooks.kind === 'none'
          ? {}
          : hooks.kind === 'command'
            ? { hooks: { PostToolUse: [{ hooks: [{ type: 'command', command: hooks.command, timeout: HOOK_TIMEOUT_S }] }] } }
            : withOurs({}, hooks.transport);
      mkdirSync(join(dir, '.claude'), { recursive: true });
      writeFileSync(join(dir, '.claude', 'settings.json'), JSON.stringify({ permissions: { allow: ['Bash(echo:*)'] }, ...settings }, null, 2));
      trusted.push(dir);
      writeHome();
    },
    async run(dir, env, rounds) {
      const api = await startFakeApi((_req, i) => (i < rounds ? { toolUse: { name: 'Bash', input: { command: `echo round-${i}`, description: `round ${i}` } } } : { text: 'done' }));
      try {
        const r = await runToEnd(
          binary,
          ['-p', PROMPT],
          dir,
          withEnv(env, { ...unsetMatching(CLAUDE_LEAKS, env), HOME: home, ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: CLAUDE_KEY, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' }),
        );
        return gapsOf(
          api.mainRequests().map((q) => q.at),
          rounds,
          'claude -p',
          r.code,
          r.output,
        );
      } finally {
        await api.close();
      }
    },
    close: () => Promise.resolve(),
  };
}

// ---- Codex ------------------------------------------------------------------------------------

/** Tool outputs in a Responses request: how many rounds this conversation has done. */
const codexRoundsDone = (req: RecordedRequest): number => (Array.isArray(req.body.input) ? (req.body.input as { type?: string }[]).filter((it) => it.type === 'function_call_output').length : 0);

/**
 * `codex exec` (approval never, read-only sandbox: `echo` runs) with CODEX_HOME per configuration,
 * where its hooks.json lives; the hooks are trusted by entries in that home's config.toml.
 */
function codexRunner(binary: string, api: FakeResponsesApi, target: { rounds: number }): AgentRunner {
  const home = (dir: string) => join(dir, 'codex-home');
  const work = (dir: string) => join(dir, 'work');
  return {
    cli: 'codex',
    binary,
    httpHooks: false,
    setup(dir, hooks) {
      mkdirSync(home(dir), { recursive: true });
      mkdirSync(work(dir), { recursive: true });
      writeFileSync(join(home(dir), 'config.toml'), codexConfigToml({ apiUrl: api.url, trusted: [work(dir)] }));
      if (hooks.kind === 'hornets') installCodexHooks(home(dir), hooks.transport);
      else if (hooks.kind === 'command') {
        const file = codexHooksFile(home(dir));
        const hook = { type: 'command', command: hooks.command, timeout: HOOK_TIMEOUT_S };
        writeFileSync(file, JSON.stringify({ hooks: { PostToolUse: [{ hooks: [hook] }] } }, null, 2));
        writeTrust(home(dir), file, [{ key: `${file}:post_tool_use:0:0`, hash: codexTrustHash('PostToolUse', hook) }]);
      }
    },
    async run(dir, env, rounds) {
      target.rounds = rounds;
      const before = api.mainRequests().length;
      const r = await runToEnd(binary, ['exec', '--skip-git-repo-check', PROMPT], work(dir), withEnv(env, { ...unsetMatching(CODEX_LEAKS, env), CODEX_HOME: home(dir), HOME: dir, ...codexKeyEnv() }));
      return gapsOf(
        api
          .mainRequests()
          .slice(before)
          .map((q) => q.at),
        rounds,
        'codex exec',
        r.code,
        r.output,
      );
    },
    close: () => api.close(),
  };
}

// ---- Gemini -----------------------------------------------------------------------------------

/** Tool outputs in a Gemini request: how many rounds this conversation has done. */
const geminiRoundsDone = (req: GeminiRequest): number =>
  (Array.isArray(req.body.contents) ? (req.body.contents as { parts?: { functionResponse?: unknown }[] }[]) : []).reduce(
    (n, c) => n + (c.parts ?? []).filter((p) => p.functionResponse !== undefined).length,
    0,
  );

/**
 * `gemini -p` with `--approval-mode yolo` (headless, the shell tool needs no approval), one
 * GEMINI_CLI_HOME for all configurations, hooks in each work folder's .gemini/settings.json and that
 * folder trusted in the home's trustedFolders.json.
 */
function geminiRunner(binary: string, api: FakeGeminiApi, target: { rounds: number }, parent: string): AgentRunner {
  const home = join(parent, 'gemini-home');
  mkdirSync(join(home, '.gemini'), { recursive: true });
  mkdirSync(join(home, 'tmp'), { recursive: true });
  writeFileSync(join(home, '.gemini', 'settings.json'), geminiUserSettings());
  return {
    cli: 'gemini',
    binary,
    httpHooks: false,
    setup(dir, hooks) {
      mkdirSync(join(dir, '.gemini'), { recursive: true });
      if (hooks.kind === 'hornets') {
        installGeminiHooks(dir, { home }, hooks.transport);
        return;
      }
      const settings = hooks.kind === 'command' ? { hooks: { AfterTool: [{ hooks: [{ type: 'command', command: hooks.command, timeout: HOOK_TIMEOUT_S * 1000 }] }] } } : {};
      writeFileSync(join(dir, '.gemini', 'settings.json'), JSON.stringify(settings, null, 2));
      trustWorktree({ home }, dir);
    },
    async run(dir, env, rounds) {
      target.rounds = rounds;
      const before = api.mainRequests().length;
      const r = await runToEnd(
        binary,
        ['--approval-mode', 'yolo', '-p', PROMPT],
        dir,
        withEnv(env, { ...unsetMatching(GEMINI_LEAKS, env), GEMINI_CLI_HOME: home, HOME: home, TMPDIR: join(home, 'tmp'), CI: undefined, GITHUB_ACTIONS: undefined, ...geminiApiEnv(api.url) }),
      );
      return gapsOf(
        api
          .mainRequests()
          .slice(before)
          .map((q) => q.at),
        rounds,
        'gemini -p',
        r.code,
        r.output,
      );
    },
    close: () => api.close(),
  };
}

/**
 * A runner for one CLI. Codex and Gemini keep one stand-in API for all their runs (their home's
 * config names its URL), which counts the tool outputs in each request to know the round.
 */
export async function agentRunner(cli: AgentCliName, parent: string, claudeBinary: string): Promise<AgentRunner> {
  const target = { rounds: 0 };
  switch (cli) {
    case 'claude':
      return claudeRunner(claudeBinary, parent);
    case 'codex': {
      const api = await startFakeResponsesApi((req) => {
        const done = codexRoundsDone(req);
        return done < target.rounds ? { exec: { cmd: `echo round-${done}` } } : { text: 'done' };
      });
      return codexRunner(agentCli('codex').binary, api, target);
    }
    case 'gemini': {
      const api = await startFakeGeminiApi((req) => {
        const done = geminiRoundsDone(req);
        return done < target.rounds ? { shell: `echo round-${done}` } : { text: 'done' };
      });
      return geminiRunner(agentCli('gemini').binary, api, target, parent);
    }
  }
}
