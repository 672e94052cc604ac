/**
 * `hornets-tui doctor`: every way this machine or project can keep the team from working, each a
 * small check returning {name, ok, detail, fix}. A failing check always says which command fixes it.
 * Checks only look: nothing is changed, started or repaired here.
 */
import { existsSync, readdirSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { Project } from '../config/load.js';
import type { MessageStore } from '../queue/store.js';
import { TmuxClient } from '../tmux/client.js';
import { MIN_TMUX, versionAtLeast } from '../tmux/argv.js';
import { runProgram } from '../proc/run.js';
import { findOnPath } from '../proc/which.js';
import { claudeVersion, compareVersions, VERIFIED_CLAUDE_VERSION } from '../proc/claude-version.js';
import { isVersionedCli, verifiedCliVersions } from '../proc/agent-cli-version.js';
import { engineStatus, httpGet, pingEngine } from '../engine-client/index.js';
import { endpointFile, paneDiedEndpointFile, pidFile } from '../engine-client/paths.js';
import { agentKeyFile } from '../hooks/credentials.js';
import { AgentManager, serverFor } from './agents.js';
import { HooksService } from './hooks-service.js';
import type { Logger } from '../log.js';
import { fail, pass, type Check } from './doctor-check.js';
import { checkTeamNodes, type TeamNodesView } from './doctor-nodes.js';

export type { Check } from './doctor-check.js';

export interface DoctorContext {
  project: Project;
  store: MessageStore;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** A team on Redis: its nodes and leader as the registry shows them (read once by the caller). */
  nodes?: TeamNodesView;
  /** This process's node (a Redis team): a host that runs none of the agents needs no engine. */
  here?: string;
  now?: number;
}

export const MIN_NODE_MAJOR = 20;
/** `git worktree remove` (used by `down --remove-worktrees`) came in 2.17. */
export const MIN_GIT = { major: 2, minor: 17 } as const;
/** Below this much free space on the state dir's file system, SQLite writes and logs start failing soon. */
export const MIN_FREE_BYTES = 100 * 1024 * 1024;
export const CLAUDE_FIX = 'install it with `npm install -g @anthropic-ai/claude-code`, or point HORNETS_CLAUDE_BIN at it';

export function checkNode(version = process.versions.node): Check {
  const major = Number(version.split('.')[0]);
  return major >= MIN_NODE_MAJOR
    ? pass('node', `node ${version}`)
    : fail('node', `node ${version} is older than ${MIN_NODE_MAJOR}`, `install Node.js ${MIN_NODE_MAJOR} or newer (e.g. \`nvm install ${MIN_NODE_MAJOR}\`)`);
}

export async function checkTmux(project: Project, env: NodeJS.ProcessEnv): Promise<Check> {
  try {
    const v = await new TmuxClient({ server: serverFor(project, env) }).version();
    return versionAtLeast(v)
      ? pass('tmux', v.raw)
      : fail('tmux', `${v.raw} is older than ${MIN_TMUX.major}.${MIN_TMUX.minor}`, `install tmux ${MIN_TMUX.major}.${MIN_TMUX.minor} or newer (e.g. \`sudo apt-get install tmux\`)`);
  } catch (err) {
    return fail('tmux', `tmux not usable: ${err instanceof Error ? err.message : String(err)}`, 'install tmux (e.g. `sudo apt-get install tmux`), or point HORNETS_TMUX_BIN at it');
  }
}

export async function checkGit(): Promise<Check> {
  const out = await runProgram('git', ['--version'], { timeoutMs: 10_000 }).catch(() => null);
  const m = out === null ? null : /(\d+)\.(\d+)/.exec(out);
  if (!m) return fail('git', 'git not found on PATH', 'install git (e.g. `sudo apt-get install git`)');
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const ok = major > MIN_GIT.major || (major === MIN_GIT.major && minor >= MIN_GIT.minor);
  return ok
    ? pass('git', out!.trim())
    : fail('git', `${out!.trim()} is older than ${MIN_GIT.major}.${MIN_GIT.minor} (agent worktrees need it)`, `install git ${MIN_GIT.major}.${MIN_GIT.minor} or newer`);
}

/** The program each profile in use runs, found on PATH, with its version. */
export async function checkAgentClis(project: Project, store: MessageStore, log: Logger, env: NodeJS.ProcessEnv): Promise<Check[]> {
  const manager = new AgentManager(project, store, log);
  const profiles = new Map(project.config.agents.map((a) => [manager.profile(a).name, manager.profile(a)]));
  const checks: Check[] = [];
  for (const profile of profiles.values()) {
    const program = profile.command[0] ?? '';
    const name = `agent cli: ${profile.name}`;
    // `{node} {hornets} …` (the demo agent) runs this very node: checked above.
    if (program.startsWith('{')) {
      checks.push(pass(name, `${profile.command.join(' ')} (runs with this node)`));
      continue;
    }
    const isClaude = program === 'claude';
    const binary = isClaude ? env.HORNETS_CLAUDE_BIN || 'claude' : program;
    const found = findOnPath(binary, env.PATH);
    if (!found) {
      checks.push(fail(name, `"${binary}" is not on PATH`, isClaude ? CLAUDE_FIX : `install ${binary} or add its directory to PATH`));
      continue;
    }
    const version = await claudeVersion(found);
    if (isClaude && version !== null && compareVersions(version, VERIFIED_CLAUDE_VERSION) < 0) {
      checks.push(
        fail(name, `claude ${version} at ${found} is older than ${VERIFIED_CLAUDE_VERSION}, the version hornets was verified on`, 'update it with `npm install -g @anthropic-ai/claude-code`'),
      );
      continue;
    }
    // Codex and Gemini: the hook protocol tables were checked on one version; an older CLI may not
    // fire the hooks the profile relies on.
    const kind = profile.hooks.kind;
    if (isVersionedCli(kind) && version !== null && compareVersions(version, verifiedCliVersions[kind].version) < 0) {
      const v = verifiedCliVersions[kind];
      checks.push(
        fail(name, `${v.name} ${version} at ${found} is older than ${v.version}, the version hornets was verified on; ${v.older}`, `update it with \`npm install -g ${v.pkg}@${v.version}\``),
      );
      continue;
    }
    const verified = isVersionedCli(kind) ? `; hooks verified on ${verifiedCliVersions[kind].version}` : isClaude ? `; hooks verified on ${VERIFIED_CLAUDE_VERSION} and newer` : '';
    checks.push(pass(name, `${found}${version ? ` (${version}${verified})` : ' (version unknown)'}`));
  }
  return checks;
}

/** Hooks installed and current in every worktree that exists. */
export function checkHooks(project: Project, store: MessageStore, log: Logger): Check[] {
  const hooks = new HooksService(new AgentManager(project, store, log));
  return hooks.verify('all').map((a) => {
    const name = `hooks: ${a.agent}`;
    if (!a.result) return pass(name, a.note ?? 'nothing to check');
    const bad = Object.entries(a.result.events).filter(([, s]) => s !== 'installed');
    return bad.length === 0
      ? pass(name, `all ${Object.keys(a.result.events).length} installed in ${a.result.file}`)
      : fail(name, `${bad.map(([e, s]) => `${e} ${s}`).join(', ')} in ${a.result.file}`, `hornets-tui hooks install ${a.agent}`);
  });
}

/** The engine runs and answers on its hook endpoint with the token it published. */
export async function checkEngine(stateDir: string): Promise<Check[]> {
  const s = engineStatus(stateDir);
  if (!s.running) {
    return [
      fail('engine', s.pid !== null ? `not running (stale pid file names ${s.pid})` : 'not running: messages to idle agents wait, crashed agents are not restarted', 'hornets-tui daemon start'),
      pass('metrics', 'not checked: no engine'),
    ];
  }
  const health = await pingEngine(stateDir, 2000);
  const engine =
    health && health.pid === s.pid
      ? pass('engine', `pid ${s.pid}, answering with its token on 127.0.0.1:${health.hookPort}`)
      : fail(
          'engine',
          `pid ${s.pid} runs but ${existsSync(endpointFile(stateDir)) ? 'does not answer on its hook endpoint with its token' : 'has not published a hook endpoint'}`,
          'hornets-tui daemon stop && hornets-tui daemon start',
        );
  const url = health?.metricsUrl ?? s.metricsUrl ?? null;
  if (!url) return [engine, fail('metrics', 'the engine published no metrics URL', 'hornets-tui daemon stop && hornets-tui daemon start')];
  const r = await httpGet(`${url}/healthz`, 2000);
  const metrics =
    r && (r.status === 200 || r.status === 503)
      ? pass('metrics', `${url}/metrics (health: ${r.status === 200 ? 'ok' : 'degraded'})`)
      : fail('metrics', `${url}/healthz does not answer`, 'hornets-tui daemon stop && hornets-tui daemon start');
  return [engine, metrics];
}

/** SQLite's own integrity check, through the store (other back ends may not have one). */
export async function checkDatabase(store: MessageStore): Promise<Check> {
  const s = store as MessageStore & { integrityCheck?: () => string | string[] | Promise<string | string[]> };
  if (typeof s.integrityCheck !== 'function') return pass('database', `integrity not checked (${store.backend} back end)`);
  try {
    const result = await s.integrityCheck();
    const text = Array.isArray(result) ? result.join('; ') : result;
    return text === 'ok'
      ? pass('database', `${store.backend}: integrity_check ok`)
      : fail(
          'database',
          `integrity_check: ${text.slice(0, 300)}`,
          'stop the engine, keep the messages with `hornets-tui queue export -o pending.jsonl`, move .hornets/hornets.db away and `hornets-tui queue import pending.jsonl`',
        );
  } catch (err) {
    return fail('database', `cannot check: ${err instanceof Error ? err.message : String(err)}`, 'see `hornets-tui logs`');
  }
}

/** The state dir and what holds secrets (tokens, messages) are private: dirs 0700, files 0600. */
export function checkModes(project: Project): Check {
  const root = project.paths.root;
  const dirs = [root, project.paths.run, project.paths.logs, project.paths.heartbeats].filter((d) => existsSync(d));
  const files = [
    project.paths.db,
    `${project.paths.db}-wal`,
    `${project.paths.db}-shm`,
    endpointFile(root),
    paneDiedEndpointFile(root),
    agentKeyFile(root),
    pidFile(root),
    join(project.paths.run, 'metrics-endpoint'),
  ];
  if (existsSync(project.paths.logs)) files.push(...readdirSync(project.paths.logs).map((f) => join(project.paths.logs, f)));
  const open = (p: string) => {
    try {
      return (statSync(p).mode & 0o077) !== 0;
    } catch {
      return false;
    }
  };
  const badDirs = dirs.filter(open);
  const badFiles = files.filter((f) => existsSync(f) && statSync(f).isFile() && open(f));
  if (badDirs.length === 0 && badFiles.length === 0) return pass('file modes', `${root}: directories 0700, files 0600`);
  const shown = (ps: string[]) => ps.map((p) => `${p} (${(statSync(p).mode & 0o777).toString(8).padStart(4, '0')})`).join(', ');
  const fix = [badDirs.length ? `chmod 700 ${badDirs.map(quote).join(' ')}` : '', badFiles.length ? `chmod 600 ${badFiles.map(quote).join(' ')}` : ''].filter(Boolean).join(' && ');
  return fail('file modes', `readable by others: ${shown([...badDirs, ...badFiles])}`, fix);
}

function quote(p: string): string {
  return /^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

export function checkDisk(dir: string, minFree = MIN_FREE_BYTES): Check {
  try {
    const s = statfsSync(dir);
    const free = s.bavail * s.bsize;
    const mib = (n: number) => `${Math.round(n / (1024 * 1024))} MiB`;
    return free >= minFree
      ? pass('disk', `${mib(free)} free on ${dir}`)
      : fail('disk', `only ${mib(free)} free on ${dir}`, `free space on that file system (at least ${mib(minFree)}), e.g. old logs in ${join(dir, 'logs')}`);
  } catch (err) {
    return fail('disk', `cannot read free space of ${dir}: ${err instanceof Error ? err.message : String(err)}`, `check that ${dir} exists (\`hornets-tui init\` creates it)`);
  }
}

function engineChecks(c: DoctorContext): Promise<Check[]> {
  const here = c.here;
  if (c.nodes && here !== undefined && ![...c.nodes.agentNodes.values()].includes(here)) {
    return Promise.resolve([pass('engine', `not needed: this host (node ${here}) runs none of the team's agents`), pass('metrics', 'not checked: no engine')]);
  }
  return checkEngine(c.project.paths.root);
}

/** Every check, in the order a user would fix things. */
export async function runDoctor(c: DoctorContext): Promise<Check[]> {
  const root = c.project.paths.root;
  const [tmux, git, clis, engine, database] = await Promise.all([checkTmux(c.project, c.env), checkGit(), checkAgentClis(c.project, c.store, c.log, c.env), engineChecks(c), checkDatabase(c.store)]);
  const nodes = c.nodes ? checkTeamNodes(c.nodes, c.now ?? Date.now()) : [];
  return [checkNode(), tmux, git, ...clis, ...checkHooks(c.project, c.store, c.log), ...engine, ...nodes, database, checkModes(c.project), checkDisk(root)];
}
