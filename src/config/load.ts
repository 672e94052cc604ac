import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError, UsageError, type ConfigIssue } from '../errors.js';
import { parseWith, readJson } from './json-file.js';
import { builtinProfilesDir, findConfig, resolveStateDir, statePaths, type StatePaths } from './paths.js';
import { hornetsConfigSchema, profileSchema, type HornetsConfig, type Profile } from './schema.js';

export interface Project {
  configPath: string;
  /** Directory holding hornets.json; relative paths in it resolve from here. */
  root: string;
  config: HornetsConfig;
  profiles: Map<string, Profile>;
  paths: StatePaths;
}

export function loadProfile(file: string): Profile {
  const profile = parseWith(profileSchema, readJson(file), file);
  const stem = basename(file, '.json');
  if (profile.name !== stem) throw new ConfigError(file, [{ path: 'name', message: `profile name "${profile.name}" must match the file name "${stem}"` }]);
  return profile;
}

/** Built-in profiles, then the project's own (same name overrides). */
export function loadProfiles(dirs: string[]): Map<string, Profile> {
  const profiles = new Map<string, Profile>();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.json')) continue;
      const p = loadProfile(join(dir, f));
      profiles.set(p.name, p);
    }
  }
  return profiles;
}

export function loadConfigFile(configPath: string): HornetsConfig {
  return parseWith(hornetsConfigSchema, readJson(configPath), configPath);
}

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

export function loadProject(options: LoadOptions = {}): Project {
  const configPath = locateConfig(options);
  const root = dirname(configPath);
  const config = loadConfigFile(configPath);
  const dirs = [builtinProfilesDir()];
  if (config.profilesDir) dirs.push(resolve(root, config.profilesDir));
  const profiles = loadProfiles(dirs);

  const issues: ConfigIssue[] = [];
  config.agents.forEach((a, i) => {
    if (!profiles.has(a.profile)) {
      issues.push({ path: `agents[${i}].profile`, message: `unknown profile "${a.profile}" (available: ${[...profiles.keys()].join(', ')})` });
    }
    if (a.briefing && !existsSync(resolve(root, a.briefing))) {
      issues.push({ path: `agents[${i}].briefing`, message: `briefing file not found: ${resolve(root, a.briefing)}` });
    }
  });
  if (issues.length > 0) throw new ConfigError(configPath, issues);

  return { configPath, root, config, profiles, paths: statePaths(resolveStateDir(configPath, options.env ?? process.env)) };
}
