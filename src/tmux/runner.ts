/** The one place that starts tmux. Every call is an argv array; nothing goes through a shell. */
import { withoutAgentMarkers } from '../domain/agent-markers.js';
import { childProcess } from '../proc/child-process.js';
import { accessSync, constants, lstatSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Net from 'node:net';
import { isAbsolute, join } from 'node:path';
import { TmuxError, TmuxMissingError } from './errors.js';

export interface RunOptions {
  /** Written to tmux's stdin (load-buffer -). */
  input?: string | Buffer;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export type TmuxRunner = (argv: readonly string[], options?: RunOptions) => Promise<RunResult>;

/**
 * Environment for tmux: without TMUX/TMUX_PANE it can never fall back to the user's current server;
 * without an agent's markers a server started from inside an agent's pane is not that agent's.
 */
export function tmuxEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { TMUX: _t, TMUX_PANE: _p, ...rest } = env;
  return withoutAgentMarkers(rest);
}

/** The tmux binary: HORNETS_TMUX_BIN lets tests and unusual installs point elsewhere. */
export function tmuxBinary(): string {
  return process.env.HORNETS_TMUX_BIN || 'tmux';
}

/** Whether execvp would find `binary` (PATH walked as it does; no PATH: in doubt, false). */
function executableFound(binary: string, env: NodeJS.ProcessEnv): boolean {
  const candidates = binary.includes('/') ? [binary] : env.PATH === undefined ? [] : env.PATH.split(':').map((d) => join(d || '.', binary));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * Whether the tmux server on `-L socket` surely does not run: its socket file is not there, or
 * nobody listens on it (`kill-server` leaves the file behind). tmux puts it in $TMUX_TMPDIR (or
 * /tmp) + /tmux-<uid>/<socket>; a client started then only prints "no server running", and starting
 * one (fork, exec, and node:child_process loaded) cost `status` more than the rest of its work.
 * False whenever in doubt (a relative TMUX_TMPDIR, no tmux binary found, any error but ENOENT or
 * ECONNREFUSED, no answer within a second): then tmux is asked as before.
 */
export async function serverSurelyAbsent(socket: string, binary = tmuxBinary(), env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const dir = env.TMUX_TMPDIR || '/tmp';
  if (!isAbsolute(dir) || socket.includes('/') || typeof process.getuid !== 'function') return false;
  // No tmux installed is an error ("tmux not found") whether or not a server could run: tmux says it.
  if (!executableFound(binary, env)) return false;
  const path = join(dir, `tmux-${process.getuid()}`, socket);
  try {
    if (!lstatSync(path).isSocket()) return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
  const { connect } = createRequire(import.meta.url)('node:net') as typeof Net;
  return new Promise((resolve) => {
    const probe = connect({ path });
    const done = (absent: boolean) => {
      probe.destroy();
      resolve(absent);
    };
    probe.setTimeout(1000, () => done(false));
    probe.on('connect', () => done(false));
    probe.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT'));
  });
}

/** Environment for attach: switch-client from inside this server needs TMUX to find its client; a fresh attach must not see it. */
export function attachEnv(insideThisServer: boolean): NodeJS.ProcessEnv {
  return insideThisServer ? process.env : tmuxEnv();
}

/** Whether this process runs inside a client of the tmux server on `socket` (TMUX names the socket path first). */
export function insideServer(socket: string): boolean {
  return (process.env.TMUX ?? '').split(',')[0]?.endsWith(`/${socket}`) ?? false;
}

export function createRunner(binary = tmuxBinary()): TmuxRunner {
  return (argv, options = {}) =>
    new Promise<RunResult>((resolve, reject) => {
      const child = childProcess().spawn(binary, argv as string[], { env: tmuxEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let settled = false;
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(new TmuxError(argv, null, `timed out after ${options.timeoutMs ?? 10_000} ms`));
      }, options.timeoutMs ?? 10_000);
      const finish = (e: Error | null, r?: RunResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (e) reject(e);
        else resolve(r!);
      };
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e: NodeJS.ErrnoException) => {
        finish(e.code === 'ENOENT' ? new TmuxMissingError(`tmux not found (${binary}); install tmux 3.0 or newer (Debian/Ubuntu: apt-get install tmux)`) : e);
      });
      child.on('close', (code) => {
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        if (code === 0) finish(null, { stdout, stderr });
        else finish(new TmuxError(argv, code, stderr, undefined, stdout));
      });
      child.stdin.on('error', () => {
        // tmux may exit before reading stdin (bad target); the close handler reports why.
      });
      if (options.input !== undefined) child.stdin.end(options.input);
      else child.stdin.end();
    });
}
