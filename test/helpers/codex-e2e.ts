/**
 * End-to-end harness for the real Codex CLI (pinned in scripts/agent-clis.json, installed by
 * scripts/install-agent-clis.mjs) driven by hornets in a private tmux server, talking to the
 * scripted local Responses API (fake-responses-api.ts) through a custom model provider.
 *
 * One `CodexE2E` = one throw-away project (a git repo with a codex profile and one agent "cx"), one
 * CODEX_HOME whose config.toml is the user's own (offline provider, project trusted; hornets adds
 * its hook trust entries to it), one tmux socket and one fake API. `cleanup()` kills the tmux server
 * (and waits for its processes) before removing the directories, then closes the API.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Message } from '../../src/domain/message.js';
import type { AgentRecord } from '../../src/domain/agent.js';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import { builtinProfilesDir } from '../../src/config/paths.js';
import { Project, type CliResult } from './cli.js';
import { capture, git, initGitRepo, killServer, randomSocket, tmux, waitFor } from './tmux.js';
import { startFakeResponsesApi, type FakeResponsesApi, type RecordedRequest, type Responder, type ResponsesUsage } from './fake-responses-api.js';
import { processesOf, type HookLogLine } from './claude-e2e.js';
import { requireAgentCli } from './agent-clis.js';
import { CODEX_LEAKS, codexConfigToml, codexKeyEnv, unsetMatching } from './agent-cli-setup.js';

export const AGENT = 'cx';

export interface CodexE2EOptions {
  /** Briefing rules written to briefings/cx.md. */
  briefing?: string;
  /** Top-level config.toml lines of the user's own (approval policy, sandbox mode). */
  config?: string[];
  /** The stand-in API's usage figures per response (default: 10 in, 5 out). */
  usage?: (n: number) => ResponsesUsage;
  /** Extra top-level hornets.json settings (e.g. `pricing`). */
  hornets?: Record<string, unknown>;
}

type Item = { type?: string; role?: string; content?: unknown; output?: unknown; text?: unknown };

const items = (req: RecordedRequest): Item[] => (Array.isArray(req.body.input) ? (req.body.input as Item[]) : []);

/** The part of a turn request that is new: the items after the model's last output (a message or a tool call). */
export function newItems(req: RecordedRequest): Item[] {
  const all = items(req);
  let last = -1;
  all.forEach((it, i) => {
    if ((it.type === 'message' && it.role === 'assistant') || it.type === 'function_call') last = i;
  });
  return all.slice(last + 1);
}

/** All text of some input items (message parts, tool outputs), joined. */
export function textOfItems(list: Item[]): string {
  const out: string[] = [];
  for (const it of list) {
    if (typeof it.output === 'string') out.push(it.output);
    if (Array.isArray(it.content)) for (const c of it.content as Item[]) if (typeof c.text === 'string') out.push(c.text);
  }
  return out.join('\n');
}

export const newText = (req: RecordedRequest): string => textOfItems(newItems(req));

/** Developer messages among the new items: where Codex puts a hook's additionalContext. */
export const developerTexts = (req: RecordedRequest): string[] =>
  newItems(req)
    .filter((it) => it.type === 'message' && it.role === 'developer')
    .map((it) => textOfItems([it]));

/** The request answers a tool call: it carries the tool's output. */
export const hasToolOutput = (req: RecordedRequest): boolean => newItems(req).some((it) => it.type === 'function_call_output');

export function countOccurrences(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** Occurrences of `[msg <id>` in the new part of each request (each request re-sends the conversation). */
export function deliveriesOf(requests: RecordedRequest[], id: string): number {
  return requests.reduce((n, r) => n + countOccurrences(newText(r), `[msg ${id}`), 0);
}

/** The ids in the order they first reached the model. */
export function arrivalOrder(requests: RecordedRequest[], ids: string[]): string[] {
  const seen: string[] = [];
  for (const r of requests) {
    const t = newText(r);
    seen.push(...ids.filter((id) => !seen.includes(id) && t.includes(`[msg ${id}`)).sort((a, b) => t.indexOf(`[msg ${a}`) - t.indexOf(`[msg ${b}`)));
  }
  return seen;
}

export class CodexE2E {
  readonly root: string;
  readonly home: string;
  readonly codexHome: string;
  readonly socket = randomSocket();
  readonly cli: Project;
  readonly codexBin: string;
  paneId = '';
  readonly tmp: string;

  private constructor(
    readonly api: FakeResponsesApi,
    options: CodexE2EOptions,
  ) {
    this.codexBin = requireAgentCli('codex');
    this.tmp = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'hornets-codex-e2e-')));
    this.root = path.join(this.tmp, 'project');
    this.home = path.join(this.tmp, 'home');
    this.codexHome = path.join(this.tmp, 'codex-home');
    for (const d of [this.root, this.home, this.codexHome]) mkdirSync(d);
    // Hermetic: the developer's own OpenAI/Codex settings must not reach the agent.
    this.cli = new Project(this.root, { ...unsetMatching(CODEX_LEAKS), HORNETS_TMUX_SOCKET: this.socket, TMUX: undefined, TMUX_PANE: undefined });
    this.writeProject(options);
  }

  static async create(responder: Responder, options: CodexE2EOptions = {}): Promise<CodexE2E> {
    const api = await startFakeResponsesApi(responder, options.usage ? { usage: options.usage } : {});
    try {
      return new CodexE2E(api, options);
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

  get configToml(): string {
    return path.join(this.codexHome, 'config.toml');
  }

  /** The user's own config.toml: offline provider, no updates or analytics, the project and its worktree trusted. */
  userConfig(): string {
    return codexConfigToml({ apiUrl: this.api.url, trusted: [this.root, this.worktree], tuiSeen: true });
  }

  private writeProject(options: CodexE2EOptions): void {
    initGitRepo(this.root);
    mkdirSync(path.join(this.root, 'briefings'));
    writeFileSync(path.join(this.root, 'briefings', `${AGENT}.md`), `${options.briefing ?? 'You are a test agent. Reply briefly.'}\n`);
    mkdirSync(path.join(this.root, 'profiles'));
    // The shipped profile, with the pinned binary in place of `codex` on PATH.
    const shipped = JSON.parse(readFileSync(path.join(builtinProfilesDir(), 'codex.json'), 'utf8')) as { command: string[]; $schema?: string };
    delete shipped.$schema;
    writeFileSync(path.join(this.root, 'profiles', 'codex.json'), JSON.stringify({ ...shipped, command: [this.codexBin, ...shipped.command.slice(1)] }, null, 2));
    writeFileSync(
      path.join(this.root, 'hornets.json'),
      JSON.stringify(
        {
          project: `e2e-${randomBytes(3).toString('hex')}`,
          profilesDir: 'profiles',
          ...options.hornets,
          agents: [
            {
              name: AGENT,
              profile: 'codex',
              role: 'End-to-end test agent',
              briefing: `briefings/${AGENT}.md`,
              env: { HOME: this.home, CODEX_HOME: this.codexHome, ...codexKeyEnv() },
            },
          ],
        },
        null,
        2,
      ),
    );
    writeFileSync(path.join(this.root, '.gitignore'), '.hornets/\n');
    git(this.root, ['add', '-A']);
    git(this.root, ['commit', '-q', '-m', 'e2e project']);
    writeFileSync(this.configToml, [...(options.config ?? []), this.userConfig()].join('\n'));
  }

  /** The agent's worktree before `up` creates it, so user files can be placed there first. */
  addWorktree(): void {
    mkdirSync(path.dirname(this.worktree), { recursive: true, mode: 0o700 });
    git(this.root, ['worktree', 'add', '-q', '-b', `hornets/${AGENT}`, this.worktree]);
  }

  async up(): Promise<string> {
    const r = await this.cli.ok(['up', '--no-engine', '--json']);
    const report = JSON.parse(r.stdout) as { created: string[]; restarted: string[] };
    if (!report.created.includes(AGENT) && !report.restarted.includes(AGENT)) throw new Error(`up did not start ${AGENT}: ${r.stdout}`);
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

  /** Codex's footer says "? for shortcuts" while the input box is empty; "esc to interrupt" while a turn runs. */
  async waitForPrompt(timeoutMs = 60_000): Promise<void> {
    await waitFor(
      `Codex's prompt in ${this.paneId}`,
      () => {
        const s = this.screen();
        return /\? for shortcuts/.test(s) && !/esc to interrupt/.test(s);
      },
      timeoutMs,
      100,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nscreen:\n${this.screen()}`);
    });
  }

  /** Types `text`, waits until it shows, then presses Enter as a separate key. */
  async submit(text: string): Promise<void> {
    await this.waitForPrompt();
    const typed = tmux(this.socket, ['send-keys', '-t', this.paneId, '-l', text]);
    if (typed.code !== 0) throw new Error(`send-keys failed: ${typed.stderr}`);
    await waitFor(`"${text}" typed into ${this.paneId}`, () => this.screen().includes(text), 10_000, 50);
    const enter = tmux(this.socket, ['send-keys', '-t', this.paneId, 'Enter']);
    if (enter.code !== 0) throw new Error(`send-keys Enter failed: ${enter.stderr}`);
  }

  /** Presses keys in the pane as they are (an answer to a dialog). */
  keys(...keys: string[]): void {
    const r = tmux(this.socket, ['send-keys', '-t', this.paneId, ...keys]);
    if (r.code !== 0) throw new Error(`send-keys failed: ${r.stderr}`);
  }

  /** Submits a prompt and waits for the turn request that carries it. */
  async prompt(text: string, timeoutMs = 30_000): Promise<RecordedRequest> {
    const before = this.api.mainRequests().length;
    await this.submit(text);
    return waitFor(
      `a turn request carrying "${text}"`,
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

  async waitForHook(event: string, outcome?: string | RegExp, opts: { after?: number; timeoutMs?: number } = {}): Promise<HookLogLine> {
    const after = opts.after ?? 0;
    const match = (l: HookLogLine) => l.event === event && (outcome === undefined || (typeof outcome === 'string' ? l.outcome === outcome : outcome.test(l.outcome ?? '')));
    return waitFor(`hook ${event}${outcome !== undefined ? ` with outcome ${String(outcome)}` : ''}`, () => this.hookLog().slice(after).find(match), opts.timeoutMs ?? 30_000, 50).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${this.diagnostics()}`);
      },
    );
  }

  async send(text: string, priority?: number): Promise<string> {
    return this.cli.send(AGENT, text, ...(priority !== undefined ? ['-p', String(priority)] : []));
  }

  /** Enqueues through the store in one transaction, in a fixed order. Returns the ids in input order. */
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

  async messageState(id: string): Promise<{ state: string; redeliveries: number }> {
    const m = (await this.queue()).find((x) => x.id === id);
    if (!m) throw new Error(`message ${id} is not in the queue`);
    return { state: m.state, redeliveries: m.redeliveries };
  }

  /** The agent's record in the queue database (state, session id, generation). */
  async agentRecord(): Promise<AgentRecord> {
    const store = await openSqliteStore(this.cli.dbPath, { busyRetryMs: 5_000 });
    try {
      const r = await store.getAgent(AGENT);
      if (!r) throw new Error(`${AGENT} is not registered`);
      return r;
    } finally {
      await store.close();
    }
  }

  /** The command tmux started the agent's pane with. */
  paneCommand(): string {
    return tmux(this.socket, ['display-message', '-p', '-t', this.paneId, '#{pane_start_command}']).stdout.trim();
  }

  run(args: string[]): Promise<CliResult> {
    return this.cli.run(args);
  }

  diagnostics(): string {
    const reqs = this.mainRequests().map((r, i) => `#${i}: ${newText(r).replace(/\s+/g, ' ').slice(0, 400)}`);
    const hooks = this.hookLog().map((l) => `${l.event} -> ${l.outcome ?? '?'} ${JSON.stringify(l.delivered ?? [])}`);
    return [`turn requests:\n${reqs.join('\n')}`, `hook log:\n${hooks.join('\n')}`, `screen:\n${this.paneId ? this.screen() : '(no pane)'}`].join('\n\n');
  }

  async cleanup(): Promise<void> {
    try {
      await this.cli.run(['daemon', 'stop']).catch(() => undefined);
      await killServer(this.socket, 10_000);
      await waitFor(`processes of ${this.root} to exit`, () => processesOf(this.root).length === 0, 10_000, 50).catch(() => {
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
      // HORNETS_E2E_KEEP=1 keeps the directories to look at after a failure.
      if (!process.env.HORNETS_E2E_KEEP) rmSync(this.tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  }
}
