/** `doctor [--json]`: what is wrong with this machine or project, each problem with its fix; exit 1 if anything is. */
import { launchEnv } from '../config/process-env.js';
import { openProject, type ProjectContext } from '../services/context.js';
import { checkGit, checkNode, runDoctor, type Check } from '../services/doctor.js';
import type { TeamNodesView } from '../services/doctor-nodes.js';
import { QueueError } from '../errors.js';
import { json, table, type Output } from './output.js';
import type { GlobalOptions } from './queue-commands.js';

/** A team on Redis: its nodes and leader, one registry read. */
async function readTeamNodes(ctx: ProjectContext): Promise<{ view: TeamNodesView; here: string } | null> {
  const s = ctx.selection;
  if (s.kind !== 'redis') return null;
  const { agentNode, processNode } = await import('../config/nodes.js');
  const { openNodeLink } = await import('../cluster/node-link.js');
  const link = await openNodeLink({ url: s.url, prefix: s.prefix, connectTimeoutMs: s.connectTimeoutMs, logger: ctx.log });
  try {
    const [records, leader] = await Promise.all([link.registry.list(), link.leader()]);
    const agentNodes = new Map<string, string>();
    for (const a of ctx.project.config.agents) {
      const node = agentNode(ctx.project.config, a);
      if (node !== null) agentNodes.set(a.name, node);
    }
    return { view: { records, leader, agentNodes }, here: processNode() };
  } finally {
    await link.close();
  }
}

async function collectChecks(g: GlobalOptions): Promise<{ checks: Check[]; project: string | null }> {
  let ctx: ProjectContext;
  try {
    ctx = await openProject({ configPath: g.config, component: 'doctor' });
  } catch (err) {
    // The team's store cannot be reached: say so as a check (with what needs no store) rather
    // than stop at the first error, so the user sees everything to fix in one run.
    // (RedisConnectError's shape, told without importing it: that would load ioredis for SQLite teams.)
    const reason = err instanceof QueueError ? err.details?.reason : undefined;
    if (!(err instanceof QueueError) || typeof reason !== 'string' || typeof err.details?.url !== 'string') throw err;
    const store: Check = {
      name: 'store',
      ok: false,
      detail: err.message,
      fix:
        reason === 'auth'
          ? 'give the right password in REDIS_URL / REDIS_PASSWORD (or hornets.json store.url)'
          : reason === 'bad_url'
            ? 'correct the URL: redis://[:password@]host:port[/db]'
            : 'start redis-server, or point REDIS_URL (or hornets.json store.url) at a reachable one',
    };
    return { checks: [checkNode(), await checkGit(), store], project: null };
  }
  try {
    const nodes = await readTeamNodes(ctx);
    const checks = await runDoctor({ project: ctx.project, store: ctx.store, log: ctx.log, env: launchEnv(), ...(nodes ? { nodes: nodes.view, here: nodes.here } : {}) });
    return { checks, project: ctx.project.configPath };
  } finally {
    await ctx.close();
  }
}

export async function doctorCommand(o: Output, g: GlobalOptions, opts: { json?: boolean }): Promise<void> {
  const { checks, project } = await collectChecks(g);
  const problems = checks.filter((c) => !c.ok);
  if (opts.json) {
    json(o, { ok: problems.length === 0, project, checks });
  } else {
    o.out(
      table(
        ['CHECK', 'OK', 'DETAIL'],
        checks.map((c) => [c.name, c.ok ? 'ok' : 'FAIL', c.detail]),
      ),
    );
    if (problems.length === 0) o.out('\nno problems found');
    else {
      o.out(`\n${problems.length} problem${problems.length === 1 ? '' : 's'}; to fix:`);
      for (const p of problems) o.out(`  ${p.name}: ${p.fix}`);
    }
  }
  if (problems.length > 0) process.exitCode = 1;
}
