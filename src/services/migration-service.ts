/**
 * Coming from Tmux-Orchestrator (issue 16, seeds 001/002): its `task_queue.db` migrated in (read
 * only, never written), and hornets' pending messages rolled back out into it. Both are planned
 * first (src/domain/tmux-orchestrator.ts), so a dry run prints exactly what a real run does, and
 * both are idempotent: a second run carries nothing twice.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MigrationError } from '../errors.js';
import { pendingStates } from '../domain/message.js';
import type { AgentPatch } from '../domain/agent.js';
import { mergeAgentHistory, planMigrationIn, planRollback, proposeMap, sameNameAgent, type AgentMap, type MapProposal, type MigrationInPlan, type ToMessage } from '../domain/tmux-orchestrator.js';
import { readForeignLayout } from '../tmux/foreign-layout.js';
import { AgentManager } from './agents.js';
import { readToDatabase } from '../queue/tmux-orchestrator/read-db.js';
import { rolledBackAlready, writeRollback } from '../queue/tmux-orchestrator/write-db.js';
import { writeFileAtomicSync } from '../util/private-files.js';
import { readAliases, writeAliases } from './agent-aliases.js';
import type { ProjectContext } from './project-context.js';

export interface MapArgs {
  /** `session:window=agent` pairs. */
  map?: string[];
  /** Old agent ids to leave behind. */
  skip?: string[];
}

/** Parses `--map a=b` / `--skip a` against the old database's agents and hornets.json's. */
export function parseAgentMap(args: MapArgs, oldIds: ReadonlySet<string>, agents: readonly string[]): Map<string, string | null> {
  const map = new Map<string, string | null>();
  const known = (id: string, flag: string) => {
    if (!oldIds.has(id)) throw new MigrationError('bad_map', `${flag} ${id}: no agent "${id}" in the old database (its agents: ${[...oldIds].sort().join(', ') || 'none'})`);
    if (map.has(id)) throw new MigrationError('bad_map', `${flag} ${id}: "${id}" is mapped twice`);
  };
  for (const pair of args.map ?? []) {
    const i = pair.lastIndexOf('=');
    if (i <= 0 || i === pair.length - 1) throw new MigrationError('bad_map', `--map ${pair}: expected <session:window>=<agent>`);
    const from = pair.slice(0, i);
    const to = pair.slice(i + 1);
    known(from, '--map');
    if (!agents.includes(to)) throw new MigrationError('bad_map', `--map ${pair}: "${to}" is not an agent of hornets.json (agents: ${agents.join(', ')})`);
    map.set(from, to);
  }
  for (const id of args.skip ?? []) {
    known(id, '--skip');
    map.set(id, null);
  }
  return map;
}

/**
 * The hornets id of an old row: the same row gives the same id, whatever the file is called now.
 * Lower-case letters and digits only, as every message id (`queue import` and the hook clients'
 * X-Hornets-Ack header accept nothing else).
 */
export function migratedId(m: ToMessage): string {
  const h = createHash('sha256')
    .update(`${m.agentId}\0${m.id}\0${m.sequence}\0${m.enqueuedAt ?? ''}\0${m.message}`)
    .digest('hex');
  return `to${h.slice(0, 22)}`;
}

/** Ids migrated by earlier runs: imported messages are pruned from history one day, this record stays. */
function ledgerFile(ctx: ProjectContext): string {
  return join(ctx.project.paths.root, 'migrations', 'tmux-orchestrator.json');
}

function readLedger(file: string): Set<string> {
  if (!existsSync(file)) return new Set();
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { imported?: unknown };
  return new Set(Array.isArray(parsed.imported) ? parsed.imported.filter((x): x is string => typeof x === 'string') : []);
}

export interface MigrationInReport {
  dryRun: boolean;
  database: string;
  schema: { agentColumn: string; restartColumns: boolean };
  mapping: { from: string; to: string | null; how: 'map' | 'skip' | 'same name' }[];
  unmapped: MigrationInPlan['unmapped'];
  imported: { id: string; toId: number; from: string; agent: string; priority: number; redelivery: boolean; body: string }[];
  /** Imported by an earlier run (in the store or the ledger). */
  already: number;
  skipped: { toId: number; from: string; reason: string }[];
  agents: { agent: string; from: string; changed: string[] }[];
  contexts: { agent: string; from: string; fields: string[] }[];
  dependencies: number;
  /** With --from-tmux: a map proposed from the old installation's live windows (never applied by itself). */
  proposals: MapProposal[] | null;
}

export async function migrateIn(ctx: ProjectContext, database: string, args: MapArgs & { dryRun?: boolean; fromTmux?: string | boolean }): Promise<MigrationInReport> {
  const db = readToDatabase(database);
  const agents = ctx.project.config.agents.map((a) => a.name);
  const oldIds = new Set([...db.messages.map((m) => m.agentId), ...db.agents.map((a) => a.agentId), ...db.contexts.map((c) => c.agentId)]);
  const map: AgentMap = parseAgentMap(args, oldIds, agents);
  const plan = planMigrationIn({ db, map, agents, idOf: migratedId, now: Date.now(), maxAttempts: ctx.project.config.queue.maxAttempts });
  let proposals: MapProposal[] | null = null;
  if (args.fromTmux) {
    const windows = await readForeignLayout(typeof args.fromTmux === 'string' ? args.fromTmux : null);
    const manager = new AgentManager(ctx.project, ctx.store, ctx.log);
    proposals = proposeMap(
      [...oldIds],
      windows,
      ctx.project.config.agents.map((a) => ({ name: a.name, dir: manager.worktreePath(a) })),
    );
  }
  for (const u of plan.unmapped) u.suggestion = proposals?.find((p) => p.agentId === u.agentId)?.agent ?? sameNameAgent(u.agentId, agents);
  const ledgerPath = ledgerFile(ctx);
  const ledger = readLedger(ledgerPath);
  const present = new Set<string>();
  for (const i of plan.imports) {
    if (ledger.has(i.message.id)) present.add(i.message.id);
    else if ((await ctx.store.get(i.message.id).catch(() => null)) !== null) present.add(i.message.id);
  }
  const fresh = plan.imports.filter((i) => !present.has(i.message.id));
  const report: MigrationInReport = {
    dryRun: !!args.dryRun,
    database,
    schema: { agentColumn: db.agentColumn, restartColumns: db.restartColumns },
    mapping: [
      ...[...map].map(([from, to]) => ({ from, to, how: to === null ? ('skip' as const) : ('map' as const) })),
      ...plan.mappedByName.map((m) => ({ from: m.agentId, to: m.agent, how: 'same name' as const })),
    ].sort((a, b) => a.from.localeCompare(b.from)),
    unmapped: plan.unmapped,
    imported: fresh.map((i) => ({ id: i.message.id, toId: i.to.id, from: i.to.agentId, agent: i.agent, priority: i.message.priority, redelivery: i.redelivery, body: i.message.body })),
    already: present.size,
    skipped: plan.skipped.map((s) => ({ toId: s.to.id, from: s.to.agentId, reason: s.reason })),
    agents: [],
    contexts: plan.contexts.map((c) => ({ agent: c.agent, from: c.from, fields: Object.keys(c.patch) })),
    dependencies: plan.dependencies,
    proposals,
  };
  if (plan.unmapped.length > 0 && !args.dryRun) {
    throw new MigrationError(
      'unmapped',
      `nothing imported: ${plan.unmapped.length} agent${plan.unmapped.length === 1 ? '' : 's'} of ${database} ${plan.unmapped.length === 1 ? 'has' : 'have'} work and no hornets agent:\n${plan.unmapped
        .map((u) => `  ${u.agentId} (${u.pending} pending): --map ${u.agentId}=${u.suggestion ?? '<agent>'} or --skip ${u.agentId}`)
        .join('\n')}`,
    );
  }
  const agentPatches: { agent: string; patch: AgentPatch }[] = [];
  for (const a of plan.agents) {
    const current = await ctx.store.getAgent(a.agent);
    const patch = current ? mergeAgentHistory(current, a.patch) : a.patch;
    report.agents.push({ agent: a.agent, from: a.from, changed: Object.keys(patch) });
    if (current && Object.keys(patch).length > 0) agentPatches.push({ agent: a.agent, patch });
  }
  if (args.dryRun) return report;

  if (fresh.length > 0) {
    const r = await ctx.store.importMessages(
      fresh.map((i, n) => ({ line: n + 1, message: i.message })),
      { partial: false },
    );
    if (r.rejected.length > 0) {
      throw new MigrationError('bad_map', `nothing imported: ${r.rejected.map((x) => `${x.id ?? `line ${x.line}`}: ${x.message}`).join('; ')}`);
    }
  }
  for (const a of agentPatches) await ctx.store.updateAgent(a.agent, a.patch);
  for (const c of plan.contexts) await ctx.store.saveAgentContext(c.agent, c.patch);
  mkdirSync(join(ctx.project.paths.root, 'migrations'), { recursive: true, mode: 0o700 });
  writeFileAtomicSync(ledgerPath, `${JSON.stringify({ database, imported: [...new Set([...ledger, ...plan.imports.map((i) => i.message.id)])].sort() }, null, 2)}\n`, 0o600, { durable: true });
  // The old ids keep working for scripts (`send proj:0 …`): see agent-aliases.ts.
  const aliases = readAliases(ctx.project.paths.root);
  for (const m of report.mapping) if (m.to !== null) aliases.set(m.from, m.to);
  writeAliases(ctx.project.paths.root, aliases);
  return report;
}

export interface RollbackReport {
  dryRun: boolean;
  database: string;
  written: { hornetsId: string; agentId: string; priority: number; body: string }[];
  /** Old rows migrate took in that hornets finished since: marked delivered. */
  settled: number;
  /** Old rows migrate took in, still pending in hornets: left in place (pulled ones set back to pending). */
  kept: number;
  already: number;
  created: boolean;
}

/** `agent=session:window` pairs for agents the alias file does not name. */
export function parseReverseMap(pairs: readonly string[], agents: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i <= 0 || i === pair.length - 1) throw new MigrationError('bad_map', `--map ${pair}: expected <agent>=<session:window>`);
    const agent = pair.slice(0, i);
    if (!agents.includes(agent)) throw new MigrationError('bad_map', `--map ${pair}: "${agent}" is not an agent of hornets.json (agents: ${agents.join(', ')})`);
    out.set(agent, pair.slice(i + 1));
  }
  return out;
}

export async function rollbackOut(ctx: ProjectContext, database: string, args: { map?: string[]; dryRun?: boolean }): Promise<RollbackReport> {
  const agents = ctx.project.config.agents.map((a) => a.name);
  // The old id of each agent: --map first, then what migrate recorded (alias → agent, reversed).
  const reverse = new Map<string, string>();
  for (const [alias, agent] of readAliases(ctx.project.paths.root)) if (!reverse.has(agent)) reverse.set(agent, alias);
  for (const [agent, id] of parseReverseMap(args.map ?? [], agents)) reverse.set(agent, id);
  const pending = await ctx.store.list({ states: [...pendingStates], order: 'delivery', limit: 1_000_000 });
  const created = !existsSync(database);
  const existing = created ? [] : readToDatabase(database).messages.map((m) => ({ toId: m.id, hornetsId: migratedId(m), status: m.status }));
  const plan = planRollback({ pending, reverse, project: ctx.project.config.project ?? null, existing, migrated: readLedger(ledgerFile(ctx)) });
  if (plan.unmapped.length > 0) {
    throw new MigrationError(
      'unmapped',
      `nothing written: ${plan.unmapped.map((u) => `${u.agent} (${u.pending} pending)`).join(', ')} ${plan.unmapped.length === 1 ? 'has' : 'have'} no Tmux-Orchestrator id: give each with --map <agent>=<session:window>`,
    );
  }
  const done = rolledBackAlready(database, plan.rows);
  const rows = plan.rows.filter((r) => !done.has(r.hornetsId));
  const report: RollbackReport = {
    dryRun: !!args.dryRun,
    database,
    written: rows.map((r) => ({ hornetsId: r.hornetsId, agentId: r.agentId, priority: r.priority, body: r.message })),
    settled: plan.settle.length,
    kept: plan.kept,
    already: done.size,
    created,
  };
  if (args.dryRun) return report;
  const result = writeRollback(database, rows, { settle: plan.settle, requeue: plan.requeue });
  report.settled = result.settled;
  report.already += result.already;
  return report;
}
