/**
 * The validated-config cache, <state>/run/config-cache.json: a project as the zod schemas
 * validated it, with the exact texts it was validated from (hornets.json and every profile file
 * read), the listings of the profile directories and the briefing files found. A short command
 * whose files all still read byte for byte the same takes the project from here and never loads
 * zod; anything else (a file changed, added, deleted or unreadable, a cache that is garbage, from
 * another build or missing) is a miss, and the caller validates as always, so a changed or broken
 * file gets the same error as without a cache.
 *
 * Only the bundled CLI (dist/cli.cjs with dist/cli-hot.cjs, built together) uses it, keyed on both
 * bundles' identity: a rebuild may change the schemas, so it invalidates every cache. Written
 * atomically (temp file + rename) and best effort: a cache that cannot be written costs speed only.
 */
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Project, ProjectSources } from './load.js';
import { locateConfig, profileFileNames, type LoadOptions } from './locate.js';
import { projectPaths, resolveStateDir, statePaths } from './paths.js';
import type { HornetsConfig, Profile } from './schema.js';

const FORMAT = 1;
export const CONFIG_CACHE_FILE = 'config-cache.json';

interface CacheDoc {
  format: number;
  build: string;
  configPath: string;
  sources: ProjectSources;
  config: HornetsConfig;
  profiles: [string, Profile][];
}

/** The bundles built together in the directory of this code; null outside them (tsc output: no cache). */
export function bundleBuildId(): string | null {
  try {
    const dir = dirname(fileURLToPath(import.meta.url));
    return ['cli.cjs', 'cli-hot.cjs']
      .map((f) => {
        const st = statSync(join(dir, f));
        return `${f} ${st.size} ${st.mtimeMs} ${st.ino}`;
      })
      .join(', ');
  } catch {
    return null;
  }
}

function cacheFile(configPath: string, env: NodeJS.ProcessEnv): string {
  return join(statePaths(resolveStateDir(configPath, env)).run, CONFIG_CACHE_FILE);
}

function sameNames(a: string[] | null, b: unknown): boolean {
  if (a === null || b === null) return a === b;
  return Array.isArray(b) && a.length === b.length && a.every((n, i) => n === b[i]);
}

/** Every source still as validated: same bytes, same profile listings, briefings still there. */
function unchanged(sources: ProjectSources): boolean {
  for (const f of sources.files) if (readFileSync(f.path, 'utf8') !== f.text) return false;
  for (const d of sources.dirs) if (!sameNames(profileFileNames(d.path), d.names)) return false;
  for (const b of sources.briefings) statSync(b); // throws when gone
  return true;
}

function wellFormed(doc: unknown, build: string, configPath: string): doc is CacheDoc {
  const d = doc as Partial<CacheDoc> | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    d.format === FORMAT &&
    d.build === build &&
    d.configPath === configPath &&
    typeof d.config === 'object' &&
    d.config !== null &&
    Array.isArray(d.config.agents) &&
    Array.isArray(d.profiles) &&
    typeof d.sources === 'object' &&
    d.sources !== null &&
    Array.isArray(d.sources.files) &&
    Array.isArray(d.sources.dirs) &&
    Array.isArray(d.sources.briefings)
  );
}

/** The project from the cache when nothing it was validated from changed; null on any miss. */
export function readCachedProject(options: LoadOptions = {}, build: string | null = bundleBuildId()): Project | null {
  if (build === null) return null;
  try {
    const env = options.env ?? process.env;
    const configPath = locateConfig(options);
    const doc: unknown = JSON.parse(readFileSync(cacheFile(configPath, env), 'utf8'));
    if (!wellFormed(doc, build, configPath) || !unchanged(doc.sources)) return null;
    return { configPath, root: dirname(configPath), config: doc.config, profiles: new Map(doc.profiles), paths: projectPaths(configPath, env) };
  } catch {
    return null;
  }
}

/** Records a project just validated from `sources` (its state dirs exist). Never throws. */
export function writeProjectCache(project: Project, sources: ProjectSources, options: LoadOptions = {}, build: string | null = bundleBuildId()): void {
  if (build === null) return;
  const file = cacheFile(project.configPath, options.env ?? process.env);
  const doc: CacheDoc = { format: FORMAT, build, configPath: project.configPath, sources, config: project.config, profiles: [...project.profiles] };
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(doc), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
  }
}
