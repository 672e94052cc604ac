/**
 * Real tmux for integration tests: one private server per test (`-L hornets-test-<random>`), never
 * the user's default server, TMUX/TMUX_PANE removed, and the server killed (and its socket file
 * removed) before the test's temp directory goes. Conditions are polled with deadlines.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Neither this process nor anything it starts may find the user's tmux through these.
delete process.env.TMUX;
delete process.env.TMUX_PANE;

export function randomSocket(): string {
  return `hornets-test-${randomBytes(5).toString('hex')}`;
}

/** Where tmux puts the socket for `-L name` (tmux 3.3: $TMUX_TMPDIR or /tmp, then tmux-<uid>/). */
export function socketPath(socket: string): string {
  return path.join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, socket);
}

export function testEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.TMUX;
  delete env.TMUX_PANE;
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return env;
}

export interface TmuxResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** tmux on a test socket. `-f /dev/null` only matters if the command starts a server. */
export function tmux(socket: string, args: string[], input?: string): TmuxResult {
  const r = spawnSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { env: testEnv(), encoding: 'utf8', input, timeout: 10_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function tmuxOk(socket: string, args: string[]): string {
  const r = tmux(socket, args);
  if (r.code !== 0) throw new Error(`tmux -L ${socket} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export function serverAlive(socket: string): boolean {
  return tmux(socket, ['list-sessions']).code === 0;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie waiting for its (re)parent to reap it is not running any more.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Kills the server (if any), waits for its pane processes to go (they write into the test's temp
 * dir until then) and removes the socket file, which tmux 3.3 leaves behind.
 */
export async function killServer(socket: string, timeoutMs = 5000): Promise<void> {
  const pids = tmux(socket, ['list-panes', '-a', '-F', '#{pane_pid}']).stdout.split('\n').filter(Boolean).map(Number);
  tmux(socket, ['kill-server']);
  try {
    unlinkSync(socketPath(socket));
  } catch {
    // never created, or already gone
  }
  const deadline = Date.now() + timeoutMs;
  while (pids.some(running) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

export function capture(socket: string, pane: string): string {
  const r = tmux(socket, ['capture-pane', '-p', '-J', '-t', pane]);
  return r.code === 0 ? r.stdout : '';
}

/** The last non-blank line of a capture, trailing blanks removed. */
export function lastLine(screen: string): string {
  const lines = screen
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .filter((l) => l !== '');
  return lines.at(-1) ?? '';
}

export interface PaneRow {
  paneId: string;
  session: string;
  window: string;
  dead: boolean;
  deadStatus: string;
  pid: number;
}

export function listPanes(socket: string): PaneRow[] {
  const r = tmux(socket, ['list-panes', '-a', '-F', '#{pane_id}\t#{session_name}\t#{window_name}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_pid}']);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [paneId, session, window, dead, deadStatus, pid] = l.split('\t');
      return { paneId: paneId!, session: session!, window: window!, dead: dead === '1', deadStatus: deadStatus ?? '', pid: Number(pid) };
    });
}

/** Polls `check` until it returns something truthy; fails with `what` (and the last value) at the deadline. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last value: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Git identity for commits made by tests, without touching any git config. */
export const gitEnv = {
  GIT_AUTHOR_NAME: 'hornets test',
  GIT_AUTHOR_EMAIL: 'test@hornets.invalid',
  GIT_COMMITTER_NAME: 'hornets test',
  GIT_COMMITTER_EMAIL: 'test@hornets.invalid',
};

export function git(cwd: string, args: string[]): string {
  const r = spawnSync('git', args, { cwd, env: testEnv(gitEnv), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** A repository with one commit: what `up` needs to add worktrees. */
export function initGitRepo(dir: string): void {
  git(dir, ['-c', 'init.defaultBranch=main', 'init', '-q']);
  git(dir, ['-c', 'user.email=test@hornets.invalid', '-c', 'user.name=hornets test', 'commit', '-q', '--allow-empty', '-m', 'initial']);
}

/**
 * Servers and directories of the current test. `cleanup()` (in afterEach, so it also runs after a
 * failure) kills every server first, then removes the directories the servers' processes used.
 */
export class TmuxFixture {
  private readonly sockets: string[] = [];
  private readonly dirs: string[] = [];
  private readonly closers: (() => unknown)[] = [];

  socket(): string {
    const s = randomSocket();
    this.sockets.push(s);
    return s;
  }

  /** Registers a socket chosen elsewhere so it is killed too. */
  adopt(socket: string): string {
    this.sockets.push(socket);
    return socket;
  }

  dir(prefix = 'hornets-tmux-'): string {
    const d = mkdtempSync(path.join(os.tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  /** Runs after the servers are killed and before the directories go (close a store, say). */
  defer(fn: () => unknown): void {
    this.closers.push(fn);
  }

  async cleanup(): Promise<void> {
    for (const s of this.sockets.splice(0)) await killServer(s);
    for (const fn of this.closers.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // cleanup goes on: the directories must still be removed
      }
    }
    for (const d of this.dirs.splice(0)) await removeDirPatiently(d);
  }
}

/**
 * Hook processes started by an agent's last moments (SessionEnd, the pane-died hook's CLI call) may
 * still be writing logs under the directory for a second or two on a loaded machine: retry the
 * removal for up to 10 s instead of failing the test over a late log line.
 */
async function removeDirPatiently(dir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
