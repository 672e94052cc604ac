/**
 * End-to-end harness for the real Gemini CLI (pinned in scripts/agent-clis.json, installed by
 * scripts/install-agent-clis.mjs) driven by hornets in a private tmux server, talking to the
 * scripted local Gemini API (fake-gemini-api.ts) through GOOGLE_GEMINI_BASE_URL.
 *
 * One `GeminiE2E` = one throw-away project (a git repo with a gemini profile and one agent "gm"),
 * one GEMINI_CLI_HOME whose .gemini/settings.json is the user's own (API-key auth, folder trust on,
 * no updates or telemetry; hornets adds the worktree to its trustedFolders.json), one tmux socket
 * and one fake API. `cleanup()` kills the tmux server (and waits for its processes) before removing
 * the directories, then closes the API.
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
import { startFakeGeminiApi, type FakeGeminiApi, type GeminiRequest, type GeminiResponder, type GeminiUsage } from './fake-gemini-api.js';
import { processesOf, type HookLogLine } from './claude-e2e.js';
import { requireAgentCli } from './agent-clis.js';
import { GEMINI_LEAKS, geminiApiEnv, geminiUserSettings, unsetMatching } from './agent-cli-setup.js';

export const AGENT = 'gm';

export interface GeminiE2EOptions {
  /** Briefing rules written to briefings/gm.md. */
  briefing?: string;
  /** The stand-in API's usage figures per streamed response (default: 10 prompt, 5 candidates). */
  usage?: (n: number) => GeminiUsage;
  /** Extra top-level hornets.json settings (e.g. `pricing`). */
  hornets?: Record<string, unknown>;
}

type Part = { text?: unknown; functionCall?: unknown; functionResponse?: { response?: { output?: unknown } } };
type Content = { role?: string; parts?: Part[] };

const contents = (req: GeminiRequest): Content[] => (Array.isArray(req.body.contents) ? (req.body.contents as Content[]) : []);

/** The part of a turn request that is new: the contents after the model's last turn. */
export function newContents(req: GeminiRequest): Content[] {
  const all = contents(req);
  let last = -1;
  all.forEach((c, i) => {
    if (c.role === 'model') last = i;
  });
  return all.slice(last + 1);
}

/** All text of some contents: text parts and tool outputs, joined. */
export function textOfContents(list: Content[]): string {
  const out: string[] = [];
  for (const c of list)
    for (const p of c.parts ?? []) {
      if (typeof p.text === 'string') out.push(p.text);
      if (typeof p.functionResponse?.response?.output === 'string') out.push(p.functionResponse.response.output);
    }
  return out.join('\n');
}

export const newText = (req: GeminiRequest): string => textOfContents(newContents(req));
export const wholeText = (req: GeminiRequest): string => textOfContents(contents(req));

/** Where Gemini puts a hook's additionalContext: `<hook_context>…</hook_context>` in the new user turn. */
export const hookContexts = (req: GeminiRequest): string[] => [...newText(req).matchAll(/<hook_context>([\s\S]*?)<\/hook_context>/g)].map((m) => m[1]!);

/** The request answers a tool call: it carries the tool's output. */
export const hasToolOutput = (req: GeminiRequest): boolean => newContents(req).some((c) => (c.parts ?? []).some((p) => p.functionResponse !== undefined));

/** The tool output's text in a request that answers a tool call (Gemini appends AfterTool's context to it). */
export const toolOutput = (req: GeminiRequest): string =>
  newContents(req)
    .flatMap((c) => c.parts ?? [])
    .map((p) => p.functionResponse?.response?.output)
    .filter((o): o is string => typeof o === 'string')
    .join('\n');

export function countOccurrences(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** Occurrences of `[msg <id>` in the new part of each request (each request re-sends the conversation). */
export function deliveriesOf(requests: GeminiRequest[], id: string): number {
  return requests.reduce((n, r) => n + countOccurrences(newText(r), `[msg ${id}`), 0);
}

/** The ids in the order they first reached the model. */
export function arrivalOrder(requests: GeminiRequest[], ids: string[]): string[] {
  const seen: string[] = [];
  for (const r of requests) {
    const t = newText(r);
    seen.push(...ids.filter((id) => !seen.includes(id) && t.includes(`[msg ${id}`)).sort((a, b) => t.indexOf(`[msg ${a}`) - t.indexOf(`[msg ${b}`)));
  }
  return seen;
}

export class GeminiE2E {
  readonly root: string;
  readonly home: string;
  /** GEMINI_CLI_HOME: Gemini keeps its settings, sessions and trustedFolders.json under its .gemini/. */
  readonly geminiHome: string;
  readonly socket = randomSocket();
  readonly cli: Project;
  readonly geminiBin: string;
  paneId = '';
  readonly tmp: string;

  private constructor(
    readonly api: FakeGeminiApi,
    options: GeminiE2EOptions,
  ) {
    this.geminiBin = requireAgentCli('gemini');
    this.tmp = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'hornets-gemini-e2e-')));
    this.root = path.join(this.tmp, 'project');
    this.home = path.join(this.tmp, 'home');
    this.geminiHome = path.join(this.tmp, 'gemini-home');
    for (const d of [this.root, this.home, path.join(this.home, 'tmp'), path.join(this.geminiHome, '.gemini')]) mkdirSync(d, { recursive: true });
    // Hermetic: the developer's own Gemini/Google settings must not reach the agent.
    this.cli = new Project(this.root, { ...unsetMatching(GEMINI_LEAKS), HORNETS_TMUX_SOCKET: this.socket, TMUX: undefined, TMUX_PANE: undefined });
    this.writeProject(options);
  }

  static async create(responder: GeminiResponder, options: GeminiE2EOptions = {}): Promise<GeminiE2E> {
    const api = await startFakeGeminiApi(responder, options.usage ? { usage: options.usage } : {});
    try {
      return new GeminiE2E(api, options);
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

  get userSettingsFile(): string {
    return path.join(this.geminiHome, '.gemini', 'settings.json');
  }

  get trustFile(): string {
    return path.join(this.geminiHome, '.gemini', 'trustedFolders.json');
  }

  /** The user's own settings: API-key auth, folder trust on, no updates, statistics or telemetry, a fixed model. */
  userSettings(): string {
    return geminiUserSettings();
  }

  private writeProject(options: GeminiE2EOptions): void {
    initGitRepo(this.root);
    mkdirSync(path.join(this.root, 'briefings'));
    writeFileSync(path.join(this.root, 'briefings', `${AGENT}.md`), `${options.briefing ?? 'You are a test agent. Reply briefly.'}\n`);
    mkdirSync(path.join(this.root, 'profiles'));
    // The shipped profile, with the pinned binary in place of `gemini` on PATH.
    const shipped = JSON.parse(readFileSync(path.join(builtinProfilesDir(), 'gemini.json'), 'utf8')) as { command: string[]; $schema?: string };
    delete shipped.$schema;
    writeFileSync(path.join(this.root, 'profiles', 'gemini.json'), JSON.stringify({ ...shipped, command: [this.geminiBin, ...shipped.command.slice(1)] }, null, 2));
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
              profile: 'gemini',
              role: 'End-to-end test agent',
              briefing: `briefings/${AGENT}.md`,
              env: { HOME: this.home, TMPDIR: path.join(this.home, 'tmp'), GEMINI_CLI_HOME: this.geminiHome, ...geminiApiEnv(this.api.url) },
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
    writeFileSync(this.userSettingsFile, this.userSettings());
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
    // Gemini 0.61.0 drops an Enter that comes within ~2 s of its input box first appearing.
    await new Promise((r) => setTimeout(r, 2_500));
    return pane;
  }

  screen(): string {
    return capture(this.socket, this.paneId);
  }

  /** Gemini's input box says "Type your message" while it waits; "esc to cancel" shows while a turn runs. */
  async waitForPrompt(timeoutMs = 60_000): Promise<void> {
    await waitFor(
      `Gemini's prompt in ${this.paneId}`,
      () => {
        const s = this.screen();
        return /Type your message/.test(s) && !/esc to cancel/.test(s);
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

  /**
   * Submits a prompt and waits for the turn request that carries it. Gemini drops an Enter that
   * comes too soon after its input box appeared (a restarted session's, under load): as a user
   * would, Enter is pressed again while the text still sits in the box and no request came.
   */
  async prompt(text: string, timeoutMs = 30_000): Promise<GeminiRequest> {
    const before = this.api.mainRequests().length;
    await this.submit(text);
    let lastEnter = Date.now();
    const inBox = new RegExp(`^\\s*>\\s+${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'm');
    return waitFor(
      `a turn request carrying "${text}"`,
      () => {
        const req = this.api
          .mainRequests()
          .slice(before)
          .find((r) => newText(r).includes(text));
        if (req) return req;
        if (Date.now() - lastEnter > 1_500 && inBox.test(this.screen())) {
          tmux(this.socket, ['send-keys', '-t', this.paneId, 'Enter']);
          lastEnter = Date.now();
        }
        return undefined;
      },
      timeoutMs,
      50,
    );
  }

  /**
   * Types `/compress` and returns what Gemini answered (the line it shows: "Chat history compressed
   * from …", "Compression was not beneficial …", "Nothing to compress."). The first Enter on a slash
   * command may only take its completion, or be refused while the UI finishes the last turn ("Slash
   * commands cannot be queued"): Enter is pressed again while the command still sits in the box.
   */
  async compress(timeoutMs = 30_000): Promise<string> {
    const results = /Chat history compressed from \d+ to \d+ tokens\.|Compression was not beneficial[^\n]*|Nothing to compress\.|Chat history compression[^\n]*|Could not compress[^\n]*/g;
    const history = () => tmux(this.socket, ['capture-pane', '-p', '-J', '-S', '-', '-t', this.paneId]).stdout;
    const before = (history().match(results) ?? []).length;
    await this.submit('/compress');
    let lastEnter = Date.now();
    return waitFor(
      'the answer to /compress',
      () => {
        const all = history().match(results) ?? [];
        if (all.length > before) return all[all.length - 1]!;
        if (Date.now() - lastEnter > 1_500 && /^\s*>\s+\/compress\s*$/m.test(this.screen())) {
          tmux(this.socket, ['send-keys', '-t', this.paneId, 'Enter']);
          lastEnter = Date.now();
        }
        return null;
      },
      timeoutMs,
      100,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nscreen:\n${this.screen()}`);
    });
  }

  mainRequests(): GeminiRequest[] {
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
