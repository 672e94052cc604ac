/**
 * Where a project's configuration lives: its hornets.json and its profile files. Apart from load.ts
 * so the CLI's hot path (a validated-config cache hit) can find them without loading zod.
 */
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { builtinProfilesDir, findConfig } from './paths.js';

export interface LoadOptions {
  /** Explicit hornets.json; otherwise found by walking up from cwd. */
  configPath?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export function locateConfig(options: LoadOptions = {}): string {
  const env = options.env ?? process.env;
  const explicit = options.configPath ?? env.HORNETS_CONFIG;
  if (explicit) return resolve(options.cwd ?? process.cwd(), explicit);
  const found = findConfig(options.cwd ?? process.cwd());
  if (!found) throw new UsageError('no hornets.json found here or in any parent directory; run `hornets-tui init` first, or pass --config <file>');
  return found;
}

/** The profile files of a directory, in load order; null when it does not exist. */
export function profileFileNames(dir: string): string[] | null {
  if (!existsSync(dir)) return null;
  return readdirSync(dir)
    .sort()
    .filter((f) => f.endsWith('.json'));
}

/** The profile directories of a project: the built-in ones, then its own profilesDir. */
export function profileDirs(root: string, profilesDir: string | undefined): string[] {
  const dirs = [builtinProfilesDir()];
  if (profilesDir) dirs.push(resolve(root, profilesDir));
  return dirs;
}
