import { existsSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { CONFIG_FILE, packageRoot, statePaths, ensureStateDirs, resolveStateDir, STATE_DIR } from '../config/paths.js';
import { AGENT_NAME_RE, agentNameRule, hornetsConfigSchema } from '../config/schema.js';
import { loadProfiles } from '../config/load.js';
import { builtinProfilesDir } from '../config/paths.js';
import { resolveStoreSelection } from '../config/store-selection.js';
import { processNode } from '../config/nodes.js';
import { writeFileAtomicSync } from '../util/private-files.js';

export interface InitOptions {
  dir: string;
  project?: string;
  agents: string[];
  profile: string;
  force?: boolean;
}

export interface InitResult {
  configPath: string;
  created: string[];
}

const roles: Record<string, string> = {
  marie: 'Lead: splits the work, reviews what the others produce and keeps the plan current.',
  anga: 'Builder: implements features in small, tested steps.',
  fabien: 'Tester: writes and runs tests, reports failures with exact reproduction steps.',
};

function sanitizeProject(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return /^[a-z0-9]/.test(s) ? s : `project-${s}`.slice(0, 40);
}

export function initProject(options: InitOptions): InitResult {
  const dir = resolve(options.dir);
  const configPath = join(dir, CONFIG_FILE);
  if (existsSync(configPath) && !options.force) {
    throw new UsageError(`${configPath} already exists; pass --force to overwrite it`);
  }
  for (const a of options.agents) {
    if (!AGENT_NAME_RE.test(a)) throw new UsageError(`invalid agent name "${a}": ${agentNameRule}`);
  }
  if (new Set(options.agents).size !== options.agents.length) throw new UsageError('agent names must be unique');
  const profiles = loadProfiles([builtinProfilesDir()]);
  if (!profiles.has(options.profile)) {
    throw new UsageError(`unknown profile "${options.profile}" (built in: ${[...profiles.keys()].join(', ')})`);
  }
  // Explicit modes: under a umask of 000 the defaults would be 0777 and 0666, and these files
  // decide what every agent is told and runs.
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const created: string[] = [];
  const briefingsDir = join(dir, 'briefings');
  mkdirSync(briefingsDir, { recursive: true, mode: 0o755 });
  const agents = options.agents.map((name) => {
    const briefing = join(briefingsDir, `${name}.md`);
    if (!existsSync(briefing)) {
      writeFileSync(
        briefing,
        `# Briefing for ${name}\n\nRules that must survive context compaction go here: they are given at session start\nand again in every rebrief.\n\n- Work only inside your worktree.\n- Messages from hornets start with [msg <id>]; a message marked "redelivery" may repeat one you already handled.\n`,
        { mode: 0o644 },
      );
      created.push(briefing);
    }
    return { name, profile: options.profile, briefing: `briefings/${name}.md`, role: roles[name] ?? `Agent ${name}.` };
  });
  const schemaPath = relative(dir, join(packageRoot(), 'schema', 'hornets.schema.json'));
  // A team whose queue the environment puts in Redis needs a node per agent: this host's, to start with.
  const onRedis = resolveStoreSelection(hornetsConfigSchema.parse({ project: 'init', agents: [{ name: 'a', profile: 'p' }] })).kind === 'redis';
  const config = {
    $schema: schemaPath,
    project: options.project ?? sanitizeProject(basename(dir)),
    defaults: onRedis ? { priority: 5, node: processNode() } : { priority: 5 },
    queue: { maxDepth: 10000, maxAttempts: 5, retryBackoff: '2s', leaseTimeout: '30s', synchronous: 'NORMAL' },
    agents,
  };
  // Validate what we are about to write so init can never produce a config that fails to load.
  const check = hornetsConfigSchema.safeParse(config);
  if (!check.success) throw new UsageError(`cannot write a valid config: ${check.error.issues[0]?.message}`);
  writeFileAtomicSync(configPath, `${JSON.stringify(config, null, 2)}\n`, 0o644);
  created.unshift(configPath);

  // Same rule as every other command (HORNETS_HOME wins), so init prepares the dir they will use.
  const paths = statePaths(resolveStateDir(configPath));
  ensureStateDirs(paths);
  created.push(paths.root);

  // Keep the state dir (database, logs) out of the user's commits.
  const gitignore = join(dir, '.gitignore');
  const line = `${STATE_DIR}/`;
  const current = existsSync(gitignore) ? readFileSync(gitignore, 'utf8') : '';
  if (!current.split('\n').some((l) => l.trim() === line || l.trim() === STATE_DIR)) {
    appendFileSync(gitignore, `${current && !current.endsWith('\n') ? '\n' : ''}${line}\n`, { mode: 0o644 });
    if (!current) created.push(gitignore);
  }
  return { configPath, created };
}
