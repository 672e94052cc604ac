/** Small helpers shared by the benchmarks, the kill -9 harness and their worker processes. */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function randInt(lo: number, hi: number): number {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

/** The repository root: the nearest directory above `from` holding package.json. */
export function repoRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = path.dirname(from);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && path.basename(path.dirname(dir)) !== 'node_modules') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
}

/**
 * The compiled `.js` of a worker that sits beside `metaUrl`. Compiled code finds its sibling;
 * TypeScript source run by vitest maps to the same file under dist/ (built by `npm run build`).
 */
export function compiledSibling(metaUrl: string, jsName: string): string {
  const here = fileURLToPath(metaUrl);
  if (here.endsWith('.js')) return path.join(path.dirname(here), jsName);
  const root = repoRoot(here);
  return path.join(root, 'dist', path.relative(root, path.dirname(here)), jsName);
}

export function makeTempDir(prefix: string, parent: string = os.tmpdir()): string {
  return mkdtempSync(path.join(parent, prefix));
}

/** Agents stopped by `down` still run their last hooks for a moment, writing into the state dir: retry. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
}

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGKILLs every child still running and waits for them to be reaped. */
export async function killAll(children: Iterable<ChildProcess>): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      waits.push(exited(c));
    }
  }
  await Promise.all(waits);
}

/** `--name value`, `--name=value` and bare `--flag` parsing; enough for the bench CLIs. */
export function parseFlags(argv: string[]): Map<string, string | true> {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) {
      flags.set(a.slice(2, eq), a.slice(eq + 1));
    } else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) {
      flags.set(a.slice(2), argv[++i]!);
    } else {
      flags.set(a.slice(2), true);
    }
  }
  return flags;
}

export function numberFlag(flags: Map<string, string | true>, name: string, fallback: number): number {
  const v = flags.get(name);
  if (v === undefined || v === true) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} expects a non-negative number, got ${v}`);
  return n;
}

export function fmtRate(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A process's CPU time so far (utime + stime), in clock ticks (USER_HZ, 100 on Linux). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** p-th percentile (nearest rank) of the finite values; NaN when there are none. */
export function percentile(xs: number[], p: number): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
