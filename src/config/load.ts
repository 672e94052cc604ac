import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { parseWith, readJson } from './json-file.js';
import { locateConfig, profileDirs, profileFileNames, type LoadOptions } from './locate.js';
import { projectPaths, type StatePaths } from './paths.js';
import { hornetsConfigSchema, profileSchema, type HornetsConfig, type Profile } from './schema.js';

export interface Project {
  configPath: string;
  /** Directory holding hornets.json; relative paths in it resolve from here. */
  root: string;
  config: HornetsConfig;
  profiles: Map<string, Profile>;
  paths: StatePaths;
}

export { locateConfig, type LoadOptions };

/**
 * Everything a project load depended on, recorded for the validated-config cache (project-cache.ts):
 * the exact texts it validated, the listings of the profile directories (a profile added or deleted
 * changes the result) and the briefing files it found.
 */
export interface ProjectSources {
  files: { path: string; text: string }[];
  dirs: { path: string; names: string[] | null }[];
  briefings: string[];
}

export function loadProfile(file: string, sources?: ProjectSources): Profile {
  const profile = parseWith(profileSchema, readJson(file, sources?.files), file);
  const stem = basename(file, '.json');
  if (profile.name !== stem) throw new ConfigError(file, [{ path: 'name', message: `profile name "${profile.name}" must match the file name "${stem}"` }]);
  return profile;
}

/** Built-in profiles, then the project's own (same name overrides). */
export function loadProfiles(dirs: string[], sources?: ProjectSources): Map<string, Profile> {
  const profiles = new Map<string, Profile>();
  for (const dir of dirs) {
    const names = profileFileNames(dir);
    sources?.dirs.push({ path: dir, names });
    for (const f of names ?? []) {
      const p = loadProfile(join(dir, f), sources);
      profiles.set(p.name, p);
    }
  }
  return profiles;
}

export function loadConfigFile(configPath: string, sources?: ProjectSources): HornetsConfig {
  return parseWith(hornetsConfigSchema, readJson(configPath, sources?.files), configPath);
}

export function loadProject(options: LoadOptions = {}, sources?: ProjectSources): Project {
  const configPath = locateConfig(options);
  const root = dirname(configPath);
  const config = loadConfigFile(configPath, sources);
  const profiles = loadProfiles(profileDirs(root, config.profilesDir), sources);

  const issues: ConfigIssue[] = [];
  config.agents.forEach((a, i) => {
    const profile = profiles.get(a.profile);
    if (!profile) {
      issues.push({ path: `agents[${i}].profile`, message: `unknown profile "${a.profile}" (available: ${[...profiles.keys()].join(', ')})` });
    }
    const delivery = a.delivery ?? config.defaults.delivery;
    if (profile && delivery !== undefined && delivery !== 'push' && profile.hooks.kind === 'none') {
      issues.push({
        path: a.delivery !== undefined ? `agents[${i}].delivery` : 'defaults.delivery',
        message: `delivery "${delivery}" needs hooks, and profile "${profile.name}" has none (hooks.kind "none"): use "push" for ${a.name}`,
      });
    }
    if (a.briefing && !existsSync(resolve(root, a.briefing))) {
      issues.push({ path: `agents[${i}].briefing`, message: `briefing file not found: ${resolve(root, a.briefing)}` });
    } else if (a.briefing) sources?.briefings.push(resolve(root, a.briefing));
  });
  config.workers.forEach((w, i) => {
    const p = profiles.get(w.profile);
    if (!p) issues.push({ path: `workers[${i}].profile`, message: `unknown profile "${w.profile}" (available: ${[...profiles.keys()].join(', ')})` });
    else if (!p.oneShot) {
      const oneShot = [...profiles.values()].filter((x) => x.oneShot).map((x) => x.name);
      issues.push({ path: `workers[${i}].profile`, message: `profile "${w.profile}" has no oneShot command, so it cannot run tasks once each (profiles with one: ${oneShot.join(', ') || 'none'})` });
    }
  });
  if (issues.length > 0) throw new ConfigError(configPath, issues);

  return { configPath, root, config, profiles, paths: projectPaths(configPath, options.env ?? process.env) };
}
