/**
 * Agents in tmux: `up` (create or reconcile), `status`, `stop`, `down`, `attach`. The tmux server,
 * session and panes are hornets' own; every pane is addressed by the immutable id kept in the DB.
 */
import { emptyUsage, totalTokens } from '../domain/usage.js';
import { accessSync, closeSync, constants, existsSync, mkdirSync, realpathSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { delimiter, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { homedir } from 'node:os';
import { HornetsError, ExitCode, UsageError } from '../errors.js';
import type { Project } from '../config/load.js';
import type { AgentConfig, Profile } from '../config/schema.js';
import { packageRoot } from '../config/paths.js';
import { launchEnv } from '../config/process-env.js';
import { claudeProgramOverride } from '../config/seed-env.js';
import type { Logger } from '../log.js';
import type { MessageStore } from '../queue/store.js';
import type { AgentRecord, AgentState } from '../domain/agent.js';
import type { PaneInfo, ServerRef, SpawnSpec } from '../tmux/argv.js';
import { TmuxClient } from '../tmux/client.js';
import { TmuxError } from '../tmux/errors.js';
import { insideServer } from '../tmux/runner.js';
import { Git } from '../git/git.js';
import { TypedLog } from './typed-log.js';
import { classifyPane, type PaneVerdict } from '../domain/pane-state.js';
import { displayAgent, type DisplayState } from '../domain/agent-display.js';
import type { HookTransport } from '../hooks/installer.js';
import { hookKind, type HookTarget } from './hook-kinds.js';
import type { GeminiHome } from '../hooks/gemini-installer.js';
import { hookProgram } from './hooks-program.js';
import { settlePool } from '../util/pool.js';
import { createExclusiveTemp } from '../util/private-files.js';
import { HOOK_CLIENT_ENV, HOOK_TOKEN_ENV, agentCredential, loadOrCreateAgentKey } from '../hooks/credentials.js';
import { processExited } from '../engine-client/pid.js';
import { processEnvironment } from '../proc/environ.js';
import { endProcesses, findAgentProcesses, terminateGroup, type AgentProcess } from '../proc/agent-processes.js';
import { withTeamLock } from './team-lock.js';
import { sweepStaleEnvFiles } from './env-files.js';

export class AgentError extends HornetsError {
  readonly exitCode = ExitCode.failure;
}

export const CONTROL_WINDOW = 'hornets';

/** The tmux pane-died hook: the notifier through bash (no exec bit needed), in the background. */
export const PANE_DIED_HOOK = `run-shell -b 'exec bash "$HORNETS_PANE_DIED" "#{pane_id}" "#{pane_dead_status}"'`;

/**
 * The pane's first process: sources the agent's environment from its 0600 file, removes the file,
 * then execs the agent (same pid). Values never appear in any argv — tmux's or the pane's — where
 * any local user could read them in /proc/<pid>/cmdline.
 */
export const ENV_LAUNCHER = '. "$1"; rm -f -- "$1"; shift; exec "$@"';

/** A value as a single-quoted shell word: the file is sourced, so nothing in it is ever expanded. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Agents prepared at once by `up` (git worktree add, hook settings). A worktree add is mostly
 * waiting (0.3 s wall for 0.07 s of CPU here), so eight overlap well even on 2 cores.
 */
const PREPARE_CONCURRENCY = 8;

/** What every agent prepared by one `up` shares: the project's repository, looked up once. */
interface PrepareContext {
  repo: () => Promise<{ repo: string | null; hasCommits: boolean }>;
  /** The repository's worktrees (real paths), from one `git worktree list` for the whole team. */
  worktrees: () => Promise<Set<string>>;
  /** info/exclude checked once per repository and pattern (every worktree of it shares the file). */
  excluded: Map<string, Promise<boolean>>;
}

/** A path compared the way git and the file system agree on it (symlinked /tmp, trailing parts). */
function realOrResolved(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/**
 * How long an agent's processes get between SIGTERM and SIGKILL when hornets ends a generation: a
 * CLI saves its session in well under a second; one that ignores SIGTERM must not hold a stop long.
 */
const PROCESS_GRACE_MS = 2000;

/** States a dead pane does not change: already down on purpose, or already known dead. */
const settledStates = new Set<AgentState>(['stopped', 'failed', 'crashed', 'backing-off']);

interface Prepared {
  agent: AgentConfig;
  record: AgentRecord;
  existing: PaneInfo | undefined;
  path: string;
  created: boolean;
}

export function serverFor(project: Project, env: NodeJS.ProcessEnv = launchEnv()): ServerRef {
  return { socket: env.HORNETS_TMUX_SOCKET || `hornets-${project.config.project}`, configFile: join(project.paths.root, 'tmux.conf') };
}

/** Our tmux config: nothing from the user's ~/.tmux.conf applies on this server. */
export function tmuxConfig(): string {
  return [
    '# Written by hornets-tui for its private server; edits are overwritten by `hornets-tui up`.',
    'set -g remain-on-exit on', // keep dead panes so their exit status can be read
    'set -g automatic-rename off', // windows are named after agents
    'set -g allow-rename off',
    'set -g default-size 200x50', // detached agents render at a sane size
    'set -g window-size latest',
    'set -g history-limit 50000',
    'set -g mouse on',
    'set -s escape-time 10',
    'set -g focus-events on', // Claude Code asks for it to track focus
    'set -g status-left "[hornets #S] "',
    'set -g status-left-length 40',
    'set -g default-terminal "tmux-256color"',
    '',
  ].join('\n');
}

export interface AgentStatus {
  name: string;
  profile: string;
  paneId: string | null;
  pid: number | null;
  alive: boolean;
  exitStatus: number | null;
  currentCommand: string | null;
  /** domain/agent-display.ts: the state `status`, the console and the metrics all show. */
  state: DisplayState;
  label: string;
  detail: string;
  /** A question, prompt, limit, stuck or failed agent: someone should look (issue 17). */
  needsYou: boolean;
  /** `limited`: when its limit resets (ISO time), when the CLI stated it. */
  resetAt: string | null;
  generation: number;
  queueDepth: number;
  worktree: string;
  restarts: number;
  lastError: string | null;
  /** Tokens the CLI recorded (issue 17): its transcript's usage entries, each model message counted once. */
  tokens: { input: number; output: number; cacheRead: number; cacheCreation: number; total: number };
  /** USD from the price table (hornets.json `pricing` over the built-in list prices). */
  costUsd: number;
  /** hornets.json `budget` (null: none). */
  budget: { usd: number | null; tokens: number | null } | null;
  /** Delivery paused because the budget was exceeded, until `resume` or a raised budget. */
  overBudget: boolean;
}

export interface UpReport {
  created: string[];
  restarted: string[];
  running: string[];
  failed: { agent: string; error: string }[];
  session: string;
  socket: string;
}

function expandCommand(argv: string[]): string[] {
  const bin = join(packageRoot(), 'bin', 'hornets-tui.cjs');
  return argv.map((a) => a.replaceAll('{node}', process.execPath).replaceAll('{hornets}', bin));
}

/** The profile command must exist before we create anything for it. */
function findExecutable(cmd: string, env: NodeJS.ProcessEnv): string | null {
  const candidates =
    isAbsolute(cmd) || cmd.includes(sep)
      ? [resolve(cmd)]
      : (env.PATH ?? '')
          .split(delimiter)
          .filter(Boolean)
          .map((d) => join(d, cmd));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // keep looking
    }
  }
  return null;
}

function within(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export class AgentManager {
  readonly tmux: TmuxClient;
  readonly session: string;
  /** What this process typed into each pane lately: its echo is never read as the agent's prompt. */
  readonly typed = new TypedLog();

  constructor(
    readonly project: Project,
    private readonly store: MessageStore,
    private readonly log: Logger,
    tmux?: TmuxClient,
  ) {
    this.tmux = tmux ?? new TmuxClient({ server: serverFor(project) });
    this.session = project.config.project;
  }

  agentConfig(name: string): AgentConfig {
    const a = this.project.config.agents.find((x) => x.name === name);
    if (!a) throw new UsageError(`unknown agent "${name}" (agents in ${this.project.configPath}: ${this.project.config.agents.map((x) => x.name).join(', ')})`);
    return a;
  }

  /**
   * The agent's profile as it runs: with the agent's (or the team's) `delivery` when one is set, so
   * one profile serves agents delivered in different modes (the seeds' modes, README).
   */
  profile(agent: AgentConfig): Profile {
    const p = this.project.profiles.get(agent.profile);
    if (!p) throw new UsageError(`agent ${agent.name}: unknown profile "${agent.profile}"`);
    const delivery = agent.delivery ?? this.project.config.defaults.delivery;
    if (delivery === undefined || delivery === p.delivery) return p;
    const key = `${p.name}\0${delivery}`;
    let chosen = this.deliveryVariants.get(key);
    if (!chosen) {
      chosen = { ...p, delivery };
      this.deliveryVariants.set(key, chosen);
    }
    return chosen;
  }

  /** One object per profile and delivery, so callers may compare profiles by identity. */
  private readonly deliveryVariants = new Map<string, Profile>();

  worktreesDir(): string {
    // Inside the project even when HORNETS_HOME moves the state elsewhere: worktrees belong to the repo.
    return resolve(this.project.root, this.project.config.worktreesDir ?? join('.hornets', 'worktrees'));
  }

  /** Where the agent runs: its configured directory, or <worktreesDir>/<name>. */
  worktreePath(agent: AgentConfig): string {
    return agent.worktree ? resolve(this.project.root, agent.worktree) : join(this.worktreesDir(), agent.name);
  }

  /** Checks every agent before anything is created, so a bad entry never leaves half a team. */
  validate(agents: AgentConfig[]): void {
    const problems: string[] = [];
    const seen = new Map<string, string>();
    const root = realpathSync(this.project.root);
    const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(root, relative(this.project.root, p)));
    // An explicitly configured worktreesDir is the user's choice of place, so it counts as inside.
    const allowed = [root, real(this.worktreesDir())];
    for (const a of agents) {
      const path = this.worktreePath(a);
      const realPath = real(path);
      if (!allowed.some((dir) => within(dir, realPath))) problems.push(`${a.name}: worktree ${path} is outside the project (${root})`);
      const other = seen.get(realPath);
      if (other) problems.push(`${a.name}: worktree ${path} is already used by ${other}`);
      seen.set(realPath, a.name);
      if (a.worktree && !existsSync(path)) problems.push(`${a.name}: worktree directory ${path} does not exist`);
      const profile = this.project.profiles.get(a.profile);
      if (!profile) {
        problems.push(`${a.name}: unknown profile "${a.profile}"`);
        continue;
      }
      const cmd = expandCommand(profile.command)[0]!;
      const env = { ...launchEnv(), ...profile.env, ...a.env };
      if (!findExecutable(cmd, env)) problems.push(`${a.name}: profile ${profile.name} runs "${cmd}", which is not on PATH (install it or change the profile's command)`);
    }
    if (problems.length > 0) throw new AgentError(`cannot start agents:\n  - ${problems.join('\n  - ')}`);
  }

  /**
   * How one agent generation starts. Its private environment — the profile's and agent's `env`
   * (API keys) and its own hook credential — goes into a fresh 0600 file in the private state
   * directory that the pane's launcher sources and removes before it execs the agent (ENV_LAUNCHER);
   * what is not secret travels as tmux `-e`. The caller removes `envFile` when no pane was made.
   */
  private spawnSpec(agent: AgentConfig, record: AgentRecord, generation: number, cwd: string, resume: boolean): SpawnSpec & { envFile: string } {
    const profile = this.profile(agent);
    let argv = expandCommand(profile.command);
    // CLAUDE_COMMAND (the seeds' name): another claude program, the arguments staying the profile's.
    const claude = argv[0] === 'claude' ? claudeProgramOverride(launchEnv()) : null;
    if (claude) argv = [claude, ...argv.slice(1)];
    if (resume && record.sessionId && profile.resume) argv = [...argv, ...profile.resume.args.map((a) => a.replaceAll('{sessionId}', record.sessionId!))];
    const credential = agentCredential(loadOrCreateAgentKey(this.project.paths.root), agent.name, generation);
    // An http hook's header takes a variable whole: the client half only, so the engine's proof never
    // leaves the pane even to whatever holds the port while no engine runs.
    const secret = { ...profile.env, ...agent.env, [HOOK_TOKEN_ENV]: credential, [HOOK_CLIENT_ENV]: credential.split('.')[0]! };
    const envFile = this.writeEnvFile(secret, profile.unsetEnv);
    return {
      argv: ['sh', '-c', ENV_LAUNCHER, 'hornets-env', envFile, ...argv],
      envFile,
      cwd,
      env: {
        HORNETS_AGENT_ID: agent.name,
        HORNETS_HOME: this.project.paths.root,
        HORNETS_CONFIG: this.project.configPath,
        HORNETS_GENERATION: String(generation),
      },
    };
  }

  /** O_CREAT | O_EXCL | O_NOFOLLOW, random name, 0600, in <state>/run (0700): nobody else can have prepared or read it. */
  private writeEnvFile(env: Record<string, string>, unset: readonly string[] = []): string {
    mkdirSync(this.project.paths.run, { recursive: true, mode: 0o700 });
    const { path, fd } = createExclusiveTemp(join(this.project.paths.run, 'agent-env'), 0o600);
    try {
      // Unset first: a variable the profile or agent sets explicitly still reaches the agent.
      writeSync(
        fd,
        unset.map((k) => `unset ${k}\n`).join('') +
          Object.entries(env)
            .map(([k, v]) => `export ${k}=${shellQuote(v)}\n`)
            .join(''),
      );
    } catch (err) {
      closeSync(fd);
      rmSync(path, { force: true });
      throw err;
    }
    closeSync(fd);
    return path;
  }

  private async ensureServer(): Promise<void> {
    await this.tmux.checkVersion();
    writeFileSync(this.tmux.server.configFile, tmuxConfig(), { mode: 0o600 });
    if (await this.tmux.hasSession(this.session)) {
      const owner = await this.tmux.showEnvironment('HORNETS_CONFIG');
      if (owner !== null && owner !== this.project.configPath) {
        throw new AgentError(`tmux server "${this.tmux.server.socket}" belongs to another project (${owner}); give this project another "project" name in hornets.json`);
      }
      // Again on a running server: one started by an older hornets keeps its heavier hook otherwise.
      await this.installPaneDiedHook();
      return;
    }
    const banner = 'hornets-tui control window: agents run in the other windows (prefix + w lists them).';
    await this.tmux.newSession(this.session, CONTROL_WINDOW, {
      argv: ['sh', '-c', 'printf "%s\\n" "$1"; exec tail -f /dev/null', 'hornets', banner],
      cwd: this.project.root,
      env: { HORNETS_HOME: this.project.paths.root },
    });
    await this.forgetStalePanes();
    await this.installPaneDiedHook();
    this.log.info({ event: 'tmux_server_started', socket: this.tmux.server.socket, session: this.session }, 'tmux session created');
  }

  /**
   * A new session means the panes recorded in the DB belong to a server that is gone (killed,
   * crashed, rebooted). Pane ids restart at %0 on a new server, so a stale id would soon name
   * another agent's pane: status would show the wrong agent alive and `up marie` would skip her.
   */
  private async forgetStalePanes(): Promise<void> {
    for (const r of await this.store.listAgents()) {
      if (r.paneId !== null) await this.store.transitionAgent(r.name, { type: 'stopped' }, { paneId: null });
    }
  }

  /**
   * A dead agent is known at once: tmux runs a small bash notifier (bin/hornets-pane-died) that
   * POSTs the pane id and exit status to a running engine — no Node process per death. With no
   * engine the pane stays dead on screen (remain-on-exit) and reconciliation, `status` and `up`
   * read it from tmux. Paths reach the hook through the server environment, never spliced into the
   * command; everything goes in one tmux call.
   */
  private async installPaneDiedHook(): Promise<void> {
    await this.tmux.configure({
      environment: {
        HORNETS_PANE_DIED: join(packageRoot(), 'bin', 'hornets-pane-died'),
        HORNETS_CONFIG: this.project.configPath,
        HORNETS_HOME: this.project.paths.root,
      },
      hooks: { 'pane-died': PANE_DIED_HOOK },
    });
  }

  /**
   * Called from the pane-died hook and by the engine: records the exit so status and recovery see
   * it at once. The hook runs as a separate process that may be seconds late (a loaded machine, many
   * panes dying together), by when recovery may already have respawned the pane: so the pane is
   * looked at again now, and the death is pinned to the generation that was running.
   */
  async paneDied(paneId: string, status: number | null): Promise<{ agent: string; generation: number; exitStatus: number | null } | null> {
    const record = (await this.store.listAgents()).find((a) => a.paneId === paneId);
    if (!record) return null;
    // tmux not answering is not a death; the engine's reconciliation looks again.
    const pane = await this.tmux.pane(paneId).catch(() => undefined);
    if (pane === undefined || (pane && !pane.dead)) return null;
    const exitStatus = pane?.deadStatus ?? status;
    await this.recordDeath(record, paneId, exitStatus);
    return { agent: record.name, generation: record.generation, exitStatus };
  }

  /** A death seen in tmux, recorded for the generation that was running (agent_exited once). */
  private async recordDeath(record: AgentRecord, paneId: string, exitStatus: number | null): Promise<void> {
    const t = await this.store.transitionAgent(record.name, { type: 'pane-died', generation: record.generation, exitStatus });
    if (t.changed) {
      await this.store.recordEvent({ agent: record.name, kind: 'agent_exited', detail: { paneId, exitStatus, generation: record.generation } });
      this.log.warn({ event: 'agent_exited', agent: record.name, paneId, exitStatus, generation: record.generation }, 'agent pane died');
    }
  }

  private prepareContext(): PrepareContext {
    let repo: Promise<{ repo: string | null; hasCommits: boolean }> | null = null;
    let worktrees: Promise<Set<string>> | null = null;
    // Three git look-ups for the whole team, side by side: each is a process start, and on a loaded
    // machine a process start is what costs.
    const list = () => (worktrees ??= Git.listWorktrees(this.project.root).then((l) => new Set(l.map((w) => realOrResolved(w.path)))));
    return {
      repo: () =>
        (repo ??= (async () => {
          void list().catch(() => undefined);
          const [top, hasCommits] = await Promise.all([Git.toplevel(this.project.root), Git.hasCommits(this.project.root)]);
          return { repo: top, hasCommits: top !== null && hasCommits };
        })()),
      worktrees: () => list(),
      excluded: new Map(),
    };
  }

  private async prepareWorktree(agent: AgentConfig, ctx: PrepareContext): Promise<{ path: string; created: boolean; repo: string | null }> {
    const path = this.worktreePath(agent);
    if (agent.worktree) return { path, created: false, repo: null };
    const { repo, hasCommits } = await ctx.repo();
    if (existsSync(path)) {
      if (!repo || !hasCommits) return { path, created: false, repo: null };
      // One `git worktree list` for the whole team, not git processes per agent: an existing
      // directory is used only if git knows it as a worktree of this repository. A leftover plain
      // directory (made before the first commit, or a worktree pruned behind our back) would let
      // the agent's git commands act on the main checkout instead.
      if (!(await ctx.worktrees()).has(realOrResolved(path))) {
        throw new AgentError(
          `${agent.name}: ${path} exists but is not a git worktree of ${repo}; move it away (or run \`git worktree prune\`) and run up again to recreate it, or set "worktree" for ${agent.name} in hornets.json to use that directory as it is`,
        );
      }
      return { path, created: false, repo };
    }
    if (repo && hasCommits) {
      const branch = agent.branch ?? `hornets/${agent.name}`;
      // hornets/<agent name> is always a valid branch (names are [a-z][a-z0-9_-]*): one git call saved per agent.
      if (agent.branch !== undefined && !(await Git.checkBranchName(repo, branch))) throw new AgentError(`${agent.name}: "${branch}" is not a valid branch name`);
      mkdirSync(this.worktreesDir(), { recursive: true, mode: 0o700 });
      await Git.addWorktree(repo, path, branch);
      this.log.info({ event: 'worktree_added', agent: agent.name, path, branch }, 'git worktree added');
      return { path, created: true, repo };
    }
    // Not a git project (or no commit yet): a plain directory per agent still isolates them.
    mkdirSync(path, { recursive: true, mode: 0o700 });
    this.log.info({ event: 'worktree_dir', agent: agent.name, path, reason: repo ? 'repository has no commits' : 'not a git repository' }, 'plain agent directory');
    return { path, created: true, repo: null };
  }

  /** What Claude Code agents' hook settings name: the command client, and the engine's port for http hooks. */
  hookTransport(): HookTransport {
    const d = this.project.config.daemon;
    return { program: hookProgram(), httpPort: d.hookTransport === 'http' ? d.hookPort : null };
  }

  /**
   * Where the agent's Codex keeps its config.toml (our hook trust entries go there): CODEX_HOME, else
   * ~/.codex, as the agent's pane will see them (hornets' environment, then the profile's, then the
   * agent's).
   */
  codexHome(agent: AgentConfig): string {
    const env = { ...launchEnv(), ...this.profile(agent).env, ...agent.env };
    const home = env.CODEX_HOME || join(env.HOME || homedir(), '.codex');
    return isAbsolute(home) ? home : resolve(this.project.root, home);
  }

  /**
   * Where the agent's Gemini CLI keeps its trustedFolders.json (the worktree's trust entry goes
   * there): GEMINI_CLI_HOME, else HOME, or GEMINI_CLI_TRUSTED_FOLDERS_PATH, as the pane sees them.
   */
  geminiHome(agent: AgentConfig): GeminiHome {
    const env = { ...launchEnv(), ...this.profile(agent).env, ...agent.env };
    const abs = (p: string) => (isAbsolute(p) ? p : resolve(this.project.root, p));
    return { home: abs(env.GEMINI_CLI_HOME || env.HOME || homedir()), trustedFoldersPath: env.GEMINI_CLI_TRUSTED_FOLDERS_PATH ? abs(env.GEMINI_CLI_TRUSTED_FOLDERS_PATH) : null };
  }

  /** What a hook installer needs to know about one agent. */
  hookTarget(agent: AgentConfig, worktree = this.worktreePath(agent)): HookTarget {
    return { worktree, transport: this.hookTransport(), codexHome: this.codexHome(agent), geminiHome: this.geminiHome(agent) };
  }

  /** The agent's directory and hook settings, ready for its process; safe to run for several agents at once. */
  private async prepare(agent: AgentConfig, ctx: PrepareContext): Promise<{ path: string; created: boolean }> {
    const { path, created, repo } = await this.prepareWorktree(agent, ctx);
    const profile = this.profile(agent);
    // Hooks go in before the agent starts, so its very first SessionStart is ours.
    const kind = hookKind(profile);
    if (kind) {
      const r = kind.install(this.hookTarget(agent, path));
      if (r.changed) this.log.info({ event: 'hooks_installed', agent: agent.name, file: r.file, backup: r.backup }, 'hooks installed');
      // A worktree we just made shares the repository's info/exclude: looked at once for all of them.
      // Elsewhere git itself says whether the directory is in a repository (it fails when not).
      const dir = repo ?? path;
      const exclude = kind.exclude;
      if (exclude !== null) {
        const key = `${dir}\0${exclude}`;
        let done = ctx.excluded.get(key);
        if (!done) {
          done = Git.ensureExcluded(dir, exclude).catch(() => false);
          if (repo) ctx.excluded.set(key, done);
        }
        await done;
      }
    }
    return { path, created };
  }

  private async discardWorktree(path: string): Promise<void> {
    const repo = await Git.toplevel(this.project.root).catch(() => null);
    if (repo) await Git.removeWorktree(repo, path, { force: true }).catch(() => undefined);
  }

  /**
   * Creates what is missing, restarts dead panes, leaves live agents alone. The agents' directories
   * are prepared a few at a time, and every new window is made in one tmux call: a team of 50 comes
   * up in about the time of one agent's git worktree add per worker, not 50 round trips in a row.
   * `resume`: new windows resume the agent's last session too (recovery after the server died).
   * `up` returns once every window is made and recorded as starting: the agents' readiness is the
   * engine's business, and `status` shows it.
   */
  up(names?: string[], options: { resume?: boolean; onServerReady?: () => void } = {}): Promise<UpReport> {
    return this.locked(`up${names ? ` ${names.join(' ')}` : ''}`, () => this.upLocked(names, options));
  }

  private async upLocked(names: string[] | undefined, options: { resume?: boolean; onServerReady?: () => void }): Promise<UpReport> {
    const agents = names ? names.map((n) => this.agentConfig(n)) : this.project.config.agents;
    this.validate(this.project.config.agents);
    await this.ensureServer();
    // The CLI starts the engine here: after the checks, with the session there (so the engine's first
    // reconciliation never takes the server for lost), and while the agents' windows are made.
    options.onServerReady?.();
    // What tmux really runs, not only what the database says: a window a racing or crashed start left
    // behind would otherwise run on beside the one made here.
    const listed = await this.tmux.listPanes();
    await this.sweepOrphans(listed);
    const stale = sweepStaleEnvFiles(this.project.paths.run, Date.now());
    if (stale.length > 0) this.log.warn({ event: 'env_files_removed', files: stale.length }, 'removed agent environment files no pane took (an earlier start was cut short)');
    const panes = new Map(listed.map((p) => [p.paneId, p]));
    const records = new Map((await this.store.listAgents()).map((r) => [r.name, r]));
    const report: UpReport = { created: [], restarted: [], running: [], failed: [], session: this.session, socket: this.tmux.server.socket };
    const failed = (agent: string, err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      report.failed.push({ agent, error: message });
      this.log.error({ event: 'agent_start_failed', agent, error: message }, 'agent failed to start');
    };
    const todo: { agent: AgentConfig; record: AgentRecord; existing: PaneInfo | undefined }[] = [];
    for (const agent of agents) {
      const record = records.get(agent.name) ?? (await this.store.getAgent(agent.name));
      if (!record) {
        failed(agent.name, new AgentError(`${agent.name} is not registered in the queue database`));
        continue;
      }
      const existing = record.paneId ? panes.get(record.paneId) : undefined;
      if (existing && existing.session === this.session && !existing.dead) report.running.push(agent.name);
      else todo.push({ agent, record, existing: existing?.session === this.session ? existing : undefined });
    }
    const ctx = this.prepareContext();
    const settled = await settlePool(todo, PREPARE_CONCURRENCY, async (t): Promise<Prepared> => ({ ...t, ...(await this.prepare(t.agent, ctx)) }));
    const fresh: Prepared[] = [];
    for (const [i, r] of settled.entries()) {
      if (r.status === 'rejected') {
        failed(todo[i]!.agent.name, r.reason);
        continue;
      }
      if (!r.value.existing) {
        fresh.push(r.value);
        continue;
      }
      try {
        await this.respawn(r.value, { resume: true });
        report.restarted.push(r.value.agent.name);
      } catch (err) {
        failed(r.value.agent.name, err);
      }
    }
    for (const name of await this.createWindows(fresh, { resume: options.resume ?? false }, failed)) report.created.push(name);
    return report;
  }

  /**
   * Restarts one agent now (respawn-pane -k kills a live one), resuming its last session when the
   * profile can; used by crash recovery and the console's restart key.
   */
  restartAgent(name: string, options: { resume: boolean }): Promise<'created' | 'restarted'> {
    return this.locked(`restart ${name}`, () => this.restartLocked(name, options));
  }

  private async restartLocked(name: string, options: { resume: boolean }): Promise<'created' | 'restarted'> {
    const agent = this.agentConfig(name);
    this.validate([agent]);
    await this.ensureServer();
    const panes = new Map((await this.tmux.listPanes()).map((p) => [p.paneId, p]));
    const record = (await this.store.getAgent(agent.name))!;
    const found = record.paneId ? panes.get(record.paneId) : undefined;
    const existing = found?.session === this.session ? found : undefined;
    const prepared: Prepared = { agent, record, existing, ...(await this.prepare(agent, this.prepareContext())) };
    if (existing) {
      await this.respawn(prepared, { resume: options.resume });
      return 'restarted';
    }
    let error: unknown = null;
    await this.createWindows([prepared], options, (_a, err) => (error = err));
    if (error !== null) throw error;
    return 'created';
  }

  /** A new process in the agent's existing pane (dead, or live and killed by -k). */
  private async respawn(p: Prepared, options: { resume: boolean }): Promise<void> {
    const generation = p.record.generation + 1;
    const existing = p.existing!;
    // The new generation is recorded before its process exists: its first hook (SessionStart) can
    // come back faster than a write after the spawn, and must find the agent starting, not down.
    await this.store.transitionAgent(p.agent.name, { type: 'started' }, { generation });
    const spec = this.spawnSpec(p.agent, p.record, generation, p.path, true);
    try {
      await this.tmux.respawnPane(existing.paneId, spec);
    } catch (err) {
      rmSync(spec.envFile, { force: true });
      throw err;
    }
    await this.store.recordEvent({
      agent: p.agent.name,
      kind: 'agent_respawned',
      detail: { paneId: existing.paneId, generation, exitStatus: existing.deadStatus, resume: options.resume || existing.dead },
    });
    // respawn-pane -k hangs up on the old process only: what it started in groups of its own (Gemini
    // CLI's relaunched child, tool commands) would run on beside the new generation.
    await this.endProcessesOf('respawn', new Map([[p.agent.name, generation]]));
  }

  /**
   * New windows for agents that have none, in one tmux batch; returns the agents started, in order.
   * With several, each agent is held at a gate until all windows are made and recorded (see
   * TmuxClient.newHeldWindows): otherwise the agents started first starve the tmux server making the
   * rest, and `up` waits for all of them to load (10 s instead of 1 s for 50 demo agents on 2 cores).
   */
  private async createWindows(list: Prepared[], options: { resume: boolean }, failed: (agent: string, err: unknown) => void): Promise<string[]> {
    if (list.length === 0) return [];
    const ready: Prepared[] = [];
    for (const p of list) {
      try {
        // Recorded before the process exists, as for a respawn (see respawn()). A pane id from an
        // older window is dropped: the engine's reconciliation must not take the window that is
        // being made for a crash of this new generation.
        await this.store.transitionAgent(p.agent.name, { type: 'started' }, { generation: p.record.generation + 1, paneId: null, ...(options.resume ? {} : { sessionId: null }) });
        ready.push(p);
      } catch (err) {
        await this.rollback(p, null);
        failed(p.agent.name, err);
      }
    }
    const windows = ready.map((p) => ({ window: p.agent.name, spec: this.spawnSpec(p.agent, p.record, p.record.generation + 1, p.path, options.resume) }));
    let made: ({ paneId: string } | { error: unknown })[];
    let release = () => Promise.resolve();
    try {
      if (windows.length > 1) ({ made, release } = await this.tmux.newHeldWindows(this.session, windows));
      else made = await this.tmux.newWindows(this.session, windows);
    } catch (err) {
      made = ready.map(() => ({ error: err }));
    }
    const started: string[] = [];
    try {
      for (const [i, p] of ready.entries()) {
        const r = made[i]!;
        const generation = p.record.generation + 1;
        const paneId = 'paneId' in r ? r.paneId : null;
        try {
          if (!paneId) {
            rmSync(windows[i]!.spec.envFile, { force: true });
            throw 'error' in r ? r.error : new AgentError('no window');
          }
          await this.store.updateAgent(p.agent.name, { paneId });
          await this.store.recordEvent({ agent: p.agent.name, kind: 'agent_started', detail: { paneId, generation, worktree: p.path } });
          this.log.info({ event: 'agent_started', agent: p.agent.name, paneId, generation }, 'agent started');
          started.push(p.agent.name);
        } catch (err) {
          await this.rollback(p, paneId);
          failed(p.agent.name, err);
        }
      }
    } finally {
      // Even when recording failed: a window that stays is an agent that must run.
      await release().catch((err: unknown) => this.log.error({ event: 'agents_release_failed', error: String(err) }, 'could not release the agents held at start'));
    }
    // An earlier generation's processes that outlived their window (a killed tmux server, a pane
    // that died while its children ran on) go before they compete with the new one.
    await this.endProcessesOf('new window', new Map(ready.map((p) => [p.agent.name, p.record.generation + 1])));
    return started;
  }

  /** Undoes what a failed start created, so a retry starts clean. */
  private async rollback(p: Prepared, paneId: string | null): Promise<void> {
    if (paneId) await this.tmux.killWindow(paneId).catch(() => undefined);
    if (p.created) await this.discardWorktree(p.path);
    await this.store.transitionAgent(p.agent.name, { type: 'stopped' }, { paneId: null }).catch(() => undefined);
  }

  /**
   * What the screen of a live pane says, for an agent no hook has reported on yet (hookless
   * profiles): input to the display rule, read the same way by `status` and the console.
   */
  async screenVerdict(name: string, record: AgentRecord | undefined, pane: PaneInfo | undefined): Promise<PaneVerdict | null> {
    if (!pane || pane.dead || pane.session !== this.session) return null;
    if (record && record.state !== 'starting' && record.state !== 'unknown') return null;
    return classifyPane(this.profile(this.agentConfig(name)).patterns, await this.tmux.capture(pane.paneId).catch(() => ''), { typed: this.typed.recent(pane.paneId) });
  }

  /** `elsewhere`: agents another node runs; this host's tmux is not asked about them. */
  async status(options: { elsewhere?: ReadonlySet<string> } = {}): Promise<AgentStatus[]> {
    const panes = new Map((await this.tmux.listPanes()).map((p) => [p.paneId, p]));
    const stats = new Map((await this.store.stats()).agents.map((s) => [s.agent, s]));
    const records = new Map((await this.store.listAgents()).map((r) => [r.name, r]));
    const usage = new Map((await this.store.agentUsage()).map((u) => [u.agent, u]));
    const now = Date.now();
    return Promise.all(
      this.project.config.agents.map(async (a) => {
        const r = records.get(a.name);
        const pane = r?.paneId ? panes.get(r.paneId) : undefined;
        const remote = options.elsewhere?.has(a.name) ?? false;
        const live = pane && pane.session === this.session && !remote ? pane : undefined;
        let restartAt: number | null = null;
        if (r?.state === 'backing-off') {
          const [scheduled] = await this.store.events({ agent: a.name, kinds: ['restart_scheduled'], limit: 1 });
          restartAt = typeof scheduled?.detail?.['at'] === 'number' ? scheduled.detail['at'] : null;
        }
        // The one display rule (domain/agent-display.ts): the console shows the same.
        // No engine may be running to hear of a death: the one who sees it first records it.
        // Not on a damaged database (writes are refused there): status must still show what it can.
        if (r && live?.dead && r.paneId === live.paneId && !settledStates.has(r.state) && !this.store.damage?.()) await this.recordDeath(r, live.paneId, live.deadStatus);
        const display = displayAgent({
          record: r ?? null,
          pane: remote ? 'unknown' : live ? (live.dead ? 'dead' : 'alive') : 'none',
          exitStatus: live?.dead ? live.deadStatus : null,
          restartAt,
          now,
          screen: await this.screenVerdict(a.name, r, live),
        });
        const u = usage.get(a.name) ?? emptyUsage(a.name);
        return {
          name: a.name,
          profile: a.profile,
          paneId: live ? live.paneId : null,
          pid: live && !live.dead ? live.pid : null,
          alive: Boolean(live && !live.dead),
          exitStatus: live?.dead ? live.deadStatus : null,
          currentCommand: live && !live.dead ? live.currentCommand : null,
          state: display.state,
          label: u.overBudget ? `${display.label} (over budget)` : display.label,
          detail: u.overBudget ? `${display.detail}; over its budget: nothing is delivered until \`resume ${a.name}\` or a raised budget` : display.detail,
          needsYou: display.needsYou || u.overBudget,
          resetAt: display.resetAt === null ? null : new Date(display.resetAt).toISOString(),
          generation: r?.generation ?? 0,
          queueDepth: stats.get(a.name)?.pending ?? 0,
          worktree: this.worktreePath(a),
          restarts: r?.restartCount ?? 0,
          lastError: r?.lastError ?? null,
          tokens: { input: u.input, output: u.output, cacheRead: u.cacheRead, cacheCreation: u.cacheCreation, total: totalTokens(u) },
          costUsd: u.costUsd,
          budget: a.budget ? { usd: a.budget.usd ?? null, tokens: a.budget.tokens ?? null } : null,
          overBudget: u.overBudget,
        };
      }),
    );
  }

  /** SIGTERM the agent, wait up to `timeoutMs` for it to exit, then kill the window. */
  stop(name: string, options: { timeoutMs?: number } = {}): Promise<'stopped' | 'not-running'> {
    this.agentConfig(name);
    return this.locked(`stop ${name}`, async () => {
      const r = await this.stopLocked(name, options);
      // A window of this agent that the database never tracked (a racing start of an older version,
      // one made by hand with its environment) goes too: stopped means nothing of it runs.
      await this.sweepOrphans(undefined, name);
      // Nor anything its processes started, in the pane's group or not (see endProcessesOf).
      await this.endProcessesOf('stop', new Map([[name, Infinity]]));
      return r;
    });
  }

  private async stopLocked(name: string, options: { timeoutMs?: number }): Promise<'stopped' | 'not-running'> {
    const record = await this.store.getAgent(name);
    const pane = record?.paneId ? await this.tmux.pane(record.paneId) : null;
    if (!pane || pane.session !== this.session) {
      await this.store.transitionAgent(name, { type: 'stopped' }, { paneId: null });
      return 'not-running';
    }
    if (!pane.dead) {
      // Marked stopped before it dies: the pane-died hook (a separate process that may read the
      // record before we clear paneId below) must not record a deliberate stop as a crash.
      await this.store.transitionAgent(name, { type: 'stopped' });
      // The whole group: Gemini CLI's first process ignores SIGTERM and waits for its relaunched child.
      terminateGroup(pane.pid);
      const deadline = Date.now() + (options.timeoutMs ?? 5000);
      while (Date.now() < deadline) {
        const p = await this.tmux.pane(pane.paneId);
        if (!p || p.dead) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await this.tmux.killWindow(pane.paneId).catch((err: unknown) => {
      if (!(err instanceof TmuxError && (err.missingTarget || err.noServer))) throw err;
    });
    await this.store.transitionAgent(name, { type: 'stopped' }, { paneId: null });
    await this.store.recordEvent({ agent: name, kind: 'agent_stopped', detail: { paneId: pane.paneId } });
    this.log.info({ event: 'agent_stopped', agent: name, paneId: pane.paneId }, 'agent stopped');
    return 'stopped';
  }

  /**
   * Stops the whole team and the tmux server. Every step is one action for all agents, not one per
   * agent: one list-panes, the records marked stopped, the pane-died hook removed (our own kills are
   * not news: no notifier per pane), SIGTERM to every agent, a look at their pids until all have
   * exited or `timeoutMs` passed, then kill-server, which closes every window at once.
   */
  down(options: { timeoutMs?: number; removeWorktrees?: boolean } = {}): Promise<{ stopped: string[]; worktreesRemoved: string[] }> {
    return this.locked('down', () => this.downLocked(options));
  }

  private async downLocked(options: { timeoutMs?: number; removeWorktrees?: boolean }): Promise<{ stopped: string[]; worktreesRemoved: string[] }> {
    const names = this.project.config.agents.map((a) => a.name);
    const records = new Map((await this.store.listAgents()).map((r) => [r.name, r]));
    const panes = new Map((await this.tmux.listPanes()).map((p) => [p.paneId, p]));
    const running: { name: string; pane: PaneInfo }[] = [];
    for (const name of names) {
      const r = records.get(name);
      const pane = r?.paneId ? panes.get(r.paneId) : undefined;
      if (pane && pane.session === this.session) running.push({ name, pane });
    }
    // Marked stopped before they die: a pane-died report for them must not read as a crash.
    for (const { name } of running) await this.store.transitionAgent(name, { type: 'stopped' });
    if (running.length > 0) await this.tmux.unsetHook('pane-died').catch(() => undefined);
    const live = running.filter((r) => !r.pane.dead);
    for (const { pane } of live) terminateGroup(pane.pid);
    // Watched by pid, not by asking tmux: a list-panes process every 50 ms competed on a loaded
    // machine with the very agents it waited for (and with the tmux server reaping them).
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    let waiting = live.map((r) => r.pane.pid);
    while (waiting.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      waiting = waiting.filter((pid) => !processExited(pid));
    }
    await this.tmux.killServer();
    // Every process of this project's agents: what outlived its pane now, and what an earlier killed
    // server left behind.
    await this.endProcessesOf('down', 'all');
    for (const r of records.values()) {
      if (r.paneId !== null && names.includes(r.name)) await this.store.transitionAgent(r.name, { type: 'stopped' }, { paneId: null });
    }
    for (const { name, pane } of running) {
      await this.store.recordEvent({ agent: name, kind: 'agent_stopped', detail: { paneId: pane.paneId } });
      this.log.info({ event: 'agent_stopped', agent: name, paneId: pane.paneId }, 'agent stopped');
    }
    const worktreesRemoved: string[] = [];
    if (options.removeWorktrees) {
      const repo = await Git.toplevel(this.project.root).catch(() => null);
      for (const a of this.project.config.agents) {
        if (a.worktree) continue; // the user's own directory: never ours to delete
        const path = this.worktreePath(a);
        if (!existsSync(path)) continue;
        if (repo) await Git.removeWorktree(repo, path, { force: true });
        worktreesRemoved.push(path);
      }
    }
    return { stopped: running.map((r) => r.name).sort(), worktreesRemoved };
  }

  /**
   * Ends this project's agent processes of generations that no longer run: for each agent in
   * `before`, every process of a generation below the one given (Infinity: all of them, for an agent
   * being stopped); 'all': every process of every agent of the project. Processes are told apart by
   * the markers their pane was started with (src/proc/agent-processes.ts), never by name.
   */
  private async endProcessesOf(why: string, before: ReadonlyMap<string, number> | 'all'): Promise<void> {
    const home = this.project.paths.root;
    const stale = (p: AgentProcess) => {
      if (before === 'all') return true;
      const limit = before.get(p.agent);
      if (limit === undefined) return false;
      // A process without a generation was started with an agent's environment by hand: only a stop ends it.
      return p.generation === null ? limit === Infinity : p.generation < limit;
    };
    const only = before !== 'all' && before.size === 1 ? [...before.keys()][0] : undefined;
    const found = findAgentProcesses(home, { agent: only }).filter(stale);
    if (found.length === 0) return;
    const r = await endProcesses(found, { graceMs: PROCESS_GRACE_MS });
    const agents = [...new Set(found.map((p) => p.agent))].sort();
    this.log.info({ event: 'agent_processes_ended', why, agents, terminated: r.terminated, killed: r.killed }, 'ended processes of agent generations that no longer run');
  }

  /**
   * What an engine finds at its start: processes of generations that no longer run (a tmux server
   * killed while no engine ran, a stop from an older hornets). Lock-free: a generation is over when a
   * newer one is on record, or when its agent is on record as stopped or failed; a start racing this
   * records a newer generation first, so its processes are never taken.
   */
  async endLeftoverProcesses(): Promise<void> {
    const records = await this.store.listAgents();
    const before = new Map<string, number>();
    for (const r of records) before.set(r.name, r.state === 'stopped' || r.state === 'failed' ? r.generation + 1 : r.generation);
    await this.endProcessesOf('engine start', before);
  }

  /** Runs `fn` as the one change to this project's agent windows (src/services/team-lock.ts). */
  locked<T>(command: string, fn: () => Promise<T>): Promise<T> {
    return withTeamLock(this.project.paths.root, command, fn);
  }

  /**
   * The agent a pane runs, by what it was started with: HORNETS_AGENT_ID of this project (from
   * /proc), or else — a dead pane, no /proc — the window's name when it is an agent's.
   */
  private paneAgent(p: PaneInfo): string | null {
    const env = p.dead ? null : processEnvironment(p.pid, ['HORNETS_AGENT_ID', 'HORNETS_CONFIG']);
    if (env?.HORNETS_AGENT_ID) return env.HORNETS_CONFIG === this.project.configPath ? env.HORNETS_AGENT_ID : null;
    if (env !== null) return null; // a live process without an agent's environment: a shell someone opened
    return p.windowName !== CONTROL_WINDOW && this.project.config.agents.some((a) => a.name === p.windowName) ? p.windowName : null;
  }

  /**
   * Kills agent windows the database does not track: made by a start that raced another one, or by
   * hand with an agent's environment. Runs under the team lock only, where no window is half-made
   * (created but not yet recorded). A window that also holds a tracked pane (someone split it) loses
   * only the untracked pane. Returns the panes killed.
   */
  async sweepOrphans(listed?: PaneInfo[], only?: string): Promise<string[]> {
    const panes = (listed ?? (await this.tmux.listPanes().catch(() => []))).filter((p) => p.session === this.session);
    if (panes.length <= 1) return [];
    const records = await this.store.listAgents();
    const tracked = new Set(records.map((r) => r.paneId).filter((id): id is string => id !== null));
    const windowsWithTracked = new Set(panes.filter((p) => tracked.has(p.paneId)).map((p) => p.windowId));
    const killed: string[] = [];
    for (const p of panes) {
      if (tracked.has(p.paneId)) continue;
      const agent = this.paneAgent(p);
      if (agent === null || (only !== undefined && agent !== only)) continue;
      const shared = windowsWithTracked.has(p.windowId);
      try {
        if (!p.dead) terminateGroup(p.pid);
        if (shared) await this.tmux.killPane(p.paneId);
        else await this.tmux.killWindow(p.paneId);
      } catch (err) {
        if (!(err instanceof TmuxError && (err.missingTarget || err.noServer))) throw err;
      }
      killed.push(p.paneId);
      this.log.warn({ event: 'orphan_window_killed', agent, paneId: p.paneId, pid: p.dead ? null : p.pid }, 'killed an agent window the database did not track');
      if (records.some((r) => r.name === agent)) await this.store.recordEvent({ agent, kind: 'orphan_window_killed', detail: { paneId: p.paneId } }).catch(() => undefined);
    }
    return killed;
  }

  async paneOf(name: string): Promise<PaneInfo> {
    this.agentConfig(name);
    const record = await this.store.getAgent(name);
    const pane = record?.paneId ? await this.tmux.pane(record.paneId) : null;
    if (!pane || pane.session !== this.session) throw new AgentError(`${name} is not running (start it with \`hornets-tui up\`)`);
    return pane;
  }

  async attach(name: string): Promise<number> {
    return this.attachPane(await this.paneOf(name));
  }

  /**
   * Attaches to a pane found earlier (paneOf), without touching the store: callers close the store
   * before handing over the terminal, since an attach can last for hours.
   */
  async attachPane(pane: PaneInfo): Promise<number> {
    const insideThisServer = insideServer(this.tmux.server.socket);
    return this.tmux.attach(this.session, pane.paneId, { insideThisServer });
  }
}
