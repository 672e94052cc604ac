import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { ConfigError, StateDirError, type ConfigIssue } from '../errors.js';
import { applySeedDirs } from './seed-env.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONFIG_FILE = 'hornets.json';
export const STATE_DIR = '.hornets';

/** The package root (where profiles/ and schema/ live), from dist/src/config/ or src/config/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'profiles'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot locate the hornets-tui package root (profiles/ missing)');
}

export function builtinProfilesDir(): string {
  return join(packageRoot(), 'profiles');
}

/** Walks up from `start` to the nearest hornets.json. */
export function findConfig(start: string): string | null {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, CONFIG_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

export interface StatePaths {
  root: string;
  db: string;
  logs: string;
  logFile: string;
  triggers: string;
  tasks: string;
  results: string;
  dlq: string;
  pipes: string;
  heartbeats: string;
  worktrees: string;
  /** Daemon pid file and hook endpoint. */
  run: string;
}

export function statePaths(stateDir: string): StatePaths {
  return {
    root: stateDir,
    db: join(stateDir, 'hornets.db'),
    logs: join(stateDir, 'logs'),
    logFile: join(stateDir, 'logs', 'hornets.log'),
    triggers: join(stateDir, 'triggers'),
    tasks: join(stateDir, 'tasks'),
    results: join(stateDir, 'results'),
    dlq: join(stateDir, 'dlq'),
    pipes: join(stateDir, 'pipes'),
    heartbeats: join(stateDir, 'heartbeats'),
    worktrees: join(stateDir, 'worktrees'),
    run: join(stateDir, 'run'),
  };
}

/**
 * The project's state paths: the state dir (`resolveStateDir`) with the seed systems' directory
 * variables applied (TRIGGER_DIR, …: config/seed-env.ts). A bad one throws, naming it.
 */
export function projectPaths(configPath: string, env: NodeJS.ProcessEnv = process.env): StatePaths {
  const issues: ConfigIssue[] = [];
  const paths = applySeedDirs(statePaths(resolveStateDir(configPath, env)), env, issues);
  if (issues.length > 0) throw new ConfigError('environment', issues);
  return paths;
}

/** `HORNETS_HOME` wins; otherwise `.hornets/` beside hornets.json. */
export function resolveStateDir(configPath: string, env: NodeJS.ProcessEnv = process.env): string {
  const override = env.HORNETS_HOME;
  if (override && override.trim() !== '') return resolve(override);
  return join(dirname(configPath), STATE_DIR);
}

/**
 * Creates a private (0700) directory, tightening an existing one that is group/world accessible.
 * One owned by someone else is refused, whatever its mode: its owner could swap anything in it
 * (the database, the hook endpoint with its tokens, a log turned into a symlink) under us.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  if (!st.isDirectory()) throw new StateDirError(dir, 'is not a directory');
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new StateDirError(dir, `is owned by uid ${st.uid}, not by you (uid ${uid}); hornets keeps its state only in a directory of your own`);
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

export function ensureStateDirs(paths: StatePaths): void {
  ensurePrivateDir(paths.root);
  for (const d of [paths.logs, paths.triggers, paths.tasks, paths.results, paths.dlq, paths.pipes, paths.heartbeats, paths.run]) ensurePrivateDir(d);
}
