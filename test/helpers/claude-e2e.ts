/**
 * End-to-end harness for the real Claude Code CLI (the pinned devDependency) driven by hornets in a
 * private tmux server, talking to the scripted local Messages API (scripts/fake-messages-api.ts).
 *
 * One `ClaudeE2E` = one throw-away project (a git repo with a claude-code profile and one agent
 * "cc"), one test HOME that lets Claude Code start straight to its prompt, one tmux socket and one
 * fake API. `cleanup()` kills the tmux server (and waits for its processes) before removing the
 * directories, then closes the API. Everything waits on conditions with deadlines.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeApi, type FakeApi, type RecordedRequest, type Responder, type UsageFigures } from '../../scripts/fake-messages-api.js';
import type { Message } from '../../src/domain/message.js';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import { Project, repoRoot, type CliResult } from './cli.js';
import { agentCli } from './agent-clis.js';
import { CLAUDE_LEAKS, unsetMatching } from './agent-cli-setup.js';
import { capture, git, initGitRepo, killServer, randomSocket, tmux, waitFor } from './tmux.js';

/**
 * The Claude Code the suite drives: the npm package pinned in package.json (2.1.197), or, with
 * HORNETS_E2E_CLAUDE_CLI=<name>, a pinned agent CLI from scripts/agent-clis.json (claude-native:
 * the newest native binary, 2.1.332). The request shapes differ between the two, and the helpers
 * below read both: 2.1.332 sends hook context as a separate `system`-role message (no
 * <system-reminder> in the tool turn), and repeats a Stop block's reason as a system entry.
 */
export const claudeCliName = process.env.HORNETS_E2E_CLAUDE_CLI || null;
export const claudeBin = claudeCliName ? agentCli(claudeCliName).binary : path.join(repoRoot, 'node_modules', '.bin', 'claude');
export const AGENT = 'cc';

/** Fake but well-formed: Claude Code remembers the approval by the key's last 20 characters. */
const API_KEY = `sk-ant-api03-hornets-e2e-${'x'.repeat(40)}-0123456789abcdefghij`;

export interface HookLogLine {
  time: string;
  event: string;
  outcome?: string;
  delivered?: string[];
  [k: string]: unknown;
}

export interface E2EOptions {
  /** Briefing rules written to briefings/cc.md. */
  briefing?: string;
  /** Committed `.claude/settings.json` of the repo (so every worktree has it). */
  committedSettings?: Record<string, unknown>;
  /** hornets.json `daemon` settings (e.g. the http hook transport). */
  daemon?: Record<string, unknown>;
  /** The agent's `delivery` in hornets.json (hooks, push or hybrid), over the profile's hybrid. */
  delivery?: 'hooks' | 'push' | 'hybrid';
  /** The stand-in API's usage figures per response (default: 10 in, 5 out, no cache). */
  usage?: (n: number) => UsageFigures;
  /** The profile's resume arguments (default `--resume {sessionId}`). */
  resumeArgs?: string[];
  /** More top-level fields of hornets.json (a price table, say). */
  config?: Record<string, unknown>;
  /** More fields of the agent's hornets.json entry (a budget, say). */
  agent?: Record<string, unknown>;
  /** Environment of the agent over the defaults; a null value removes the variable (the API key, say). */
  agentEnv?: Record<string, string | null>;
}

type Block = { type?: string; text?: unknown; content?: unknown };
type ApiMessage = { role?: string; content?: unknown };

/** The part of a main request that is new: everything after the last assistant message. */
export function newMessages(req: RecordedRequest): ApiMessage[] {
  const messages = (Array.isArray(req.body.messages) ? req.body.messages : []) as ApiMessage[];
  let last = -1;
  messages.forEach((m, i) => {
    if (m.role === 'assistant') last = i;
  });
  return messages.slice(last + 1);
}

/** All text of some messages (text blocks, tool results, system entries), joined. */
export function textOf(messages: ApiMessage[]): string {
  const out: string[] = [];
  const walk = (c: unknown): void => {
    if (typeof c === 'string') out.push(c);
    else if (Array.isArray(c)) c.forEach(walk);
    else if (c && typeof c === 'object') {
      const b = c as Block;
      if (typeof b.text === 'string') out.push(b.text);
      if (b.content !== undefined) walk(b.content);
    }
  };
  for (const m of messages) walk(m.content);
  return out.join('\n');
}

export const newText = (req: RecordedRequest): string => textOf(newMessages(req));

export function countOccurrences(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** True when the request's new part carries a tool result (the agent is mid-turn). */
export function hasToolResult(req: RecordedRequest): boolean {
  return newMessages(req).some((m) => Array.isArray(m.content) && (m.content as Block[]).some((b) => b?.type === 'tool_result'));
}

/** Claude Code's own summarisation call for /compact, which must not be mistaken for a turn. */
export function isCompactRequest(req: RecordedRequest): boolean {
  return /summary of the conversation|create a detailed summary|summarize the conversation/i.test(newText(req));
}

export class ClaudeE2E {
  readonly root: string;
  readonly home: string;
  readonly socket = randomSocket();
  readonly cli: Project;
  paneId = '';
  /** Private temp dir holding the project, the test HOME and anything a test wants to put beside them. */
  readonly tmp: string;

  private constructor(
    readonly api: FakeApi,
    options: E2EOptions,
  ) {
    this.tmp = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'hornets-e2e-')));
    this.root = path.join(this.tmp, 'project');
    this.home = path.join(this.tmp, 'home');
    mkdirSync(this.root);
    mkdirSync(this.home);
    // Hermetic: the tmux server (and so the agent) inherits the CLI's environment, and the
    // developer's own Claude/Anthropic settings (a token, Bedrock, a config dir) must not leak in.
    this.cli = new Project(this.root, { ...unsetMatching(CLAUDE_LEAKS), HORNETS_TMUX_SOCKET: this.socket, TMUX: undefined, TMUX_PANE: undefined });
    this.writeProject(options);
  }

  static async create(responder: Responder, options: E2EOptions = {}): Promise<ClaudeE2E> {
    const api = await startFakeApi(responder, options.usage ? { usage: options.usage } : {});
    try {
      return new ClaudeE2E(api, options);
    } catch (err) {
      await api.close();
      throw err;
    }
  }

  get worktree(): string {
    return path.join(this.root, '.hornets', 'worktrees', AGENT);
  }

  get logFile(): string {
    return path.join(this.root, '.hornets', 'logs', 'hornets.log');
  }

  private writeProject(options: E2EOptions): void {
    initGitRepo(this.root);
    const briefing = options.briefing ?? 'You are a test agent. Reply briefly.';
    mkdirSync(path.join(this.root, 'briefings'));
    writeFileSync(path.join(this.root, 'briefings', `${AGENT}.md`), `${briefing}\n`);
    mkdirSync(path.join(this.root, 'profiles'));
    writeFileSync(
      path.join(this.root, 'profiles', 'claude-code.json'),
      JSON.stringify(
        {
          name: 'claude-code',
          command: [claudeBin],
          delivery: 'hybrid',
          hooks: { kind: 'claude-code' },
          patterns: { idle: ['^❯\\s*$'], busy: ['esc to interrupt'], permission: ['Do you want to proceed'], error: [] },
          resume: { args: options.resumeArgs ?? ['--resume', '{sessionId}'] },
        },
        null,
        2,
      ),
    );
    writeFileSync(
      path.join(this.root, 'hornets.json'),
      JSON.stringify(
        {
          project: `e2e-${randomBytes(3).toString('hex')}`,
          profilesDir: 'profiles',
          ...(options.daemon ? { daemon: options.daemon } : {}),
          ...options.config,
          agents: [
            {
              name: AGENT,
              profile: 'claude-code',
              role: 'End-to-end test agent',
              briefing: `briefings/${AGENT}.md`,
              ...(options.delivery ? { delivery: options.delivery } : {}),
              ...options.agent,
              env: Object.fromEntries(
                Object.entries({
                  HOME: this.home,
                  ANTHROPIC_BASE_URL: this.api.url,
                  ANTHROPIC_API_KEY: API_KEY,
                  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
                  ...options.agentEnv,
                }).filter((kv): kv is [string, string] => kv[1] !== null),
              ),
            },
          ],
        },
        null,
        2,
      ),
    );
    // State and worktrees are not part of the repository the agents work on.
    writeFileSync(path.join(this.root, '.gitignore'), '.hornets/\n');
    if (options.committedSettings) {
      mkdirSync(path.join(this.root, '.claude'));
      writeFileSync(path.join(this.root, '.claude', 'settings.json'), JSON.stringify(options.committedSettings, null, 2));
    }
    git(this.root, ['add', '-A']);
    git(this.root, ['commit', '-q', '-m', 'e2e project']);
    // Start straight to the prompt: onboarding done, the key approved, the project root trusted
    // (trust on the main checkout covers the agent's git worktree).
    writeFileSync(
      path.join(this.home, '.claude.json'),
      JSON.stringify({
        hasCompletedOnboarding: true,
        customApiKeyResponses: { approved: [API_KEY.slice(-20)], rejected: [] },
        projects: { [this.root]: { hasTrustDialogAccepted: true, allowedTools: [] } },
      }),
    );
  }

  /** The agent's worktree before `up` creates it, so user files can be placed there first. */
  addWorktree(): void {
    mkdirSync(path.dirname(this.worktree), { recursive: true, mode: 0o700 });
    git(this.root, ['worktree', 'add', '-q', '-b', `hornets/${AGENT}`, this.worktree]);
  }

  async up(): Promise<string> {
    const r = await this.cli.ok(['up', '--no-engine', '--json']);
    const report = JSON.parse(r.stdout) as { created: string[]; failed: unknown[] };
    if (!report.created.includes(AGENT)) throw new Error(`up did not create ${AGENT}: ${r.stdout}`);
    const status = JSON.parse((await this.cli.ok(['status', '--json'])).stdout) as { name: string; paneId: string | null }[];
    const pane = status.find((s) => s.name === AGENT)?.paneId;
    if (!pane) throw new Error(`status shows no pane for ${AGENT}: ${JSON.stringify(status)}`);
    this.paneId = pane;
    await this.waitForPrompt();
    return pane;
  }

  screen(): string {
    return capture(this.socket, this.paneId);
  }

  /** Claude Code's input line `❯` is on screen and no turn is running. */
  async waitForPrompt(timeoutMs = 60_000): Promise<void> {
    await waitFor(
      `Claude Code's prompt in ${this.paneId}`,
      () => {
        const s = this.screen();
        return /^❯/m.test(s) && !/esc to interrupt/.test(s);
      },
      timeoutMs,
      100,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nscreen:\n${this.screen()}`);
    });
  }

  /**
   * Waits for the idle prompt, types `text` (`send-keys -l`), waits until it shows in the input
   * box so Enter is never pressed too early, then presses Enter as a separate key.
   */
  async submit(text: string): Promise<void> {
    await this.waitForPrompt();
    const typed = tmux(this.socket, ['send-keys', '-t', this.paneId, '-l', text]);
    if (typed.code !== 0) throw new Error(`send-keys failed: ${typed.stderr}`);
    await waitFor(`"${text}" typed into ${this.paneId}`, () => this.screen().includes(text), 10_000, 50);
    const enter = tmux(this.socket, ['send-keys', '-t', this.paneId, 'Enter']);
    if (enter.code !== 0) throw new Error(`send-keys Enter failed: ${enter.stderr}`);
  }

  /** Submits a prompt and waits for the main request that carries it. */
  async prompt(text: string, timeoutMs = 30_000): Promise<RecordedRequest> {
    const before = this.api.mainRequests().length;
    await this.submit(text);
    return waitFor(
      `a main request carrying "${text}"`,
      () =>
        this.api
          .mainRequests()
          .slice(before)
          .find((r) => newText(r).includes(text)),
      timeoutMs,
      50,
    );
  }

  mainRequests(): RecordedRequest[] {
    return this.api.mainRequests();
  }

  hookLog(): HookLogLine[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      })
      .map((l) => (l.component === 'hook-server' && l.event === 'hook' ? { ...l, component: 'hook', event: l.hook } : l))
      .filter((l) => l.component === 'hook' && typeof l.event === 'string') as HookLogLine[];
  }

  /** Waits for the n-th (1-based, counting from `after`) hook log line matching event (and outcome). */
  async waitForHook(event: string, outcome?: string | RegExp, opts: { after?: number; timeoutMs?: number } = {}): Promise<HookLogLine> {
    const after = opts.after ?? 0;
    const match = (l: HookLogLine) => l.event === event && (outcome === undefined || (typeof outcome === 'string' ? l.outcome === outcome : outcome.test(l.outcome ?? '')));
    return waitFor(`hook ${event}${outcome !== undefined ? ` with outcome ${String(outcome)}` : ''}`, () => this.hookLog().slice(after).find(match), opts.timeoutMs ?? 30_000, 50).catch(
      (err: Error) => {
        throw new Error(
          `${err.message}\nhook log:\n${this.hookLog()
            .map((l) => `${l.event} ${l.outcome} ${JSON.stringify(l.delivered ?? [])}`)
            .join('\n')}`,
        );
      },
    );
  }

  /** `send` through the CLI; returns the message id. */
  async send(text: string, priority?: number): Promise<string> {
    return this.cli.send(AGENT, text, ...(priority !== undefined ? ['-p', String(priority)] : []));
  }

  /**
   * Enqueues through the store itself, in one transaction: fast and in a fixed order, for when
   * many messages must land while the agent waits on the API. Returns the ids in input order.
   */
  async enqueueDirect(messages: { body: string; priority: number }[]): Promise<string[]> {
    const store = await openSqliteStore(this.cli.dbPath, { busyRetryMs: 5_000 });
    try {
      const results = await store.enqueueBatch(messages.map((m) => ({ agent: AGENT, body: m.body, priority: m.priority, sender: 'e2e' })));
      return results.map((r) => r.message.id);
    } finally {
      await store.close();
    }
  }

  async queue(): Promise<Message[]> {
    const r = await this.cli.ok(['queue', 'list', '--all', '--json', '--limit', '1000']);
    return JSON.parse(r.stdout) as Message[];
  }

  run(args: string[]): Promise<CliResult> {
    return this.cli.run(args);
  }

  /** Main requests, hook log and screen, for a failing test's output. */
  diagnostics(): string {
    const reqs = this.mainRequests().map((r, i) => `#${i}${isCompactRequest(r) ? ' (compact)' : ''}: ${newText(r).replace(/\s+/g, ' ').slice(0, 400)}`);
    const hooks = this.hookLog().map((l) => `${l.event} -> ${l.outcome ?? '?'} ${JSON.stringify(l.delivered ?? [])}`);
    return [`main requests:\n${reqs.join('\n')}`, `hook log:\n${hooks.join('\n')}`, `screen:\n${this.paneId ? this.screen() : '(no pane)'}`].join('\n\n');
  }

  /**
   * Kills the tmux server first (Claude Code and its hooks write into our dirs), waits for every
   * process that still runs for this project (a SessionEnd hook fired by the kill) to finish, then
   * removes the directories and closes the API.
   */
  async cleanup(): Promise<void> {
    try {
      await killServer(this.socket, 10_000);
      await waitFor(`hook processes of ${this.root} to exit`, () => processesOf(this.root).length === 0, 10_000, 50).catch(() => {
        for (const pid of processesOf(this.root)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
      });
    } finally {
      await this.api.close().catch(() => undefined);
      rmSync(this.tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  }
}

/** Pids of processes whose environment points HORNETS_HOME into `root` (agents and their hooks). */
export function processesOf(root: string): number[] {
  const needle = `HORNETS_HOME=${path.join(root, '.hornets')}`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(needle)) pids.push(Number(entry));
    } catch {
      // exited, or not ours to read
    }
  }
  return pids;
}

/** Checks that `value()` keeps returning `expected` for `ms`: the way to assert that nothing more happens. */
export async function staysFor<T>(what: string, value: () => T, expected: T, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = value();
    if (v !== expected) throw new Error(`${what}: expected it to stay ${String(expected)}, it became ${String(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Occurrences of `[msg <id>` in the new part of each request (each request re-sends the conversation). */
/**
 * 2.1.332 hands a Stop block's reason to the model twice in one request: as the user reminder
 * ("Stop hook feedback: …", as 2.1.197 does) and again as a system entry "Stop hook blocking error
 * from command: …". One hand-over, so only the reminder counts.
 */
const isStopErrorEcho = (m: ApiMessage): boolean => m.role === 'system' && textOf([m]).startsWith('Stop hook blocking error from command:');

export function deliveriesOf(requests: RecordedRequest[], id: string): number {
  return requests.filter((r) => !isCompactRequest(r)).reduce((n, r) => n + countOccurrences(textOf(newMessages(r).filter((m) => !isStopErrorEcho(m))), `[msg ${id}`), 0);
}

/** The text block of the request's new part that carries a hook's context for message `id` (in the tool turn, or a system message beside it). */
export function hookContextBeside(req: RecordedRequest, id: string): string {
  for (const m of newMessages(req)) {
    const blocks = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : Array.isArray(m.content) ? (m.content as Block[]) : [];
    const hit = blocks.find((b) => b?.type === 'text' && typeof b.text === 'string' && b.text.includes(`[msg ${id}`));
    if (hit) return hit.text as string;
  }
  return '';
}

/** The ids in the order they first reached the model. */
export function arrivalOrder(requests: RecordedRequest[], ids: string[]): string[] {
  const seen: string[] = [];
  for (const r of requests.filter((x) => !isCompactRequest(x))) {
    const t = newText(r);
    const here = ids.filter((id) => !seen.includes(id) && t.includes(`[msg ${id}`)).sort((a, b) => t.indexOf(`[msg ${a}`) - t.indexOf(`[msg ${b}`));
    seen.push(...here);
  }
  return seen;
}

/** Whether the pinned Claude Code binary can run here (it ships a native binary per platform). */
export function claudeRuns(): boolean {
  if (!existsSync(claudeBin)) return false;
  const r = spawnSync(claudeBin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 && /\d+\.\d+\.\d+/.test(r.stdout);
}
