/**
 * Where the pinned agent CLIs that scripts/install-agent-clis.mjs installs live
 * (.cache/agent-clis/<name>@<version>/), for the end-to-end tests that drive them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './cli.js';

interface AgentCli {
  name: string;
  pkg: string;
  version: string;
  bin: string;
  /** An executable the package does not link into .bin (a platform package's native binary), relative to its node_modules. */
  path?: string;
}

/** The pins, shared with the install script (scripts/agent-clis.json). */
const clis = (JSON.parse(readFileSync(path.join(repoRoot, 'scripts', 'agent-clis.json'), 'utf8')) as { clis: AgentCli[] }).clis;

export function agentCli(name: string): AgentCli & { binary: string } {
  const cli = clis.find((c) => c.name === name);
  if (!cli) throw new Error(`no pinned agent CLI named ${name} (scripts/agent-clis.mjs)`);
  const modules = path.join(repoRoot, '.cache', 'agent-clis', `${cli.name}@${cli.version}`, 'node_modules');
  return { ...cli, binary: cli.path ? path.join(modules, cli.path) : path.join(modules, '.bin', cli.bin) };
}

/**
 * The CLI's binary, checked to run and to be the pinned version. Missing or broken, it throws with
 * the command that installs it: in CI that fails the suite, and elsewhere a developer sees why.
 */
export function requireAgentCli(name: string): string {
  const cli = agentCli(name);
  const hint = `run \`node scripts/install-agent-clis.mjs ${name}\` (.ci/run does it before the tests)`;
  if (!existsSync(cli.binary)) throw new Error(`${cli.pkg}@${cli.version} is not installed at ${cli.binary}: ${hint}`);
  const r = spawnSync(cli.binary, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0 || !r.stdout.includes(cli.version)) throw new Error(`${cli.binary} --version did not report ${cli.version} (${r.stdout || r.stderr}): ${hint}`);
  return cli.binary;
}

/**
 * Skipping a CLI's suite is allowed only outside CI, and only when asked for by name
 * (HORNETS_SKIP_<NAME>_E2E=1): in CI a missing CLI fails, never skips silently.
 */
export function skipAgentCliSuite(name: string): boolean {
  return process.env.CI !== 'true' && process.env[`HORNETS_SKIP_${name.toUpperCase().replace(/-/g, '_')}_E2E`] === '1';
}
