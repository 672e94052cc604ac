/** `migrate tmux-orchestrator <db>` and `migrate rollback <db>` (issue 16): reports for people and for scripts. */
import { openProject } from '../services/context.js';
import { migrateIn, rollbackOut, type MigrationInReport, type RollbackReport } from '../services/migration-service.js';
import { json, table, type Output } from './output.js';
import type { GlobalOptions } from './queue-commands.js';

/** A word as a shell would need it typed (printed suggestions only; nothing here runs a shell). */
function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

function short(text: string, n = 60): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

function printIn(o: Output, r: MigrationInReport): void {
  const verb = r.dryRun ? 'would import' : 'imported';
  o.out(`${r.database}: Tmux-Orchestrator queue (agents in ${r.schema.agentColumn}${r.schema.restartColumns ? ', with restart history' : ''})`);
  if (r.mapping.length > 0) {
    o.out('\nagents:');
    o.out(
      table(
        ['OLD ID', 'HORNETS AGENT', 'HOW'],
        r.mapping.map((m) => [m.from, m.to ?? '(skipped)', m.how]),
      ),
    );
  }
  if (r.proposals) {
    o.out('\nproposed from the live tmux windows (nothing applied; pass the flags you agree with):');
    o.out(
      table(
        ['OLD ID', 'WINDOW', 'DIRECTORY', 'PROPOSED', 'WHY'],
        r.proposals.map((p) => [p.agentId, p.window ? `${p.window.session}:${p.window.index} ${p.window.name}` : '(no such window)', p.window?.path ?? '', p.agent ?? '-', p.how]),
      ),
    );
    const flags = r.proposals.filter((p) => p.agent).map((p) => `--map ${shellWord(`${p.agentId}=${p.agent}`)}`);
    if (flags.length > 0) o.out(`  ${flags.join(' ')}`);
    for (const p of r.proposals) if (p.add) o.out(`  no agent works in ${p.window!.path}: hornets-tui ${p.add.map(shellWord).join(' ')}`);
  }
  if (r.unmapped.length > 0) {
    o.out(`\nnot mapped (${r.dryRun ? 'a real run imports nothing until each is mapped or skipped' : 'nothing imported'}):`);
    for (const u of r.unmapped) o.out(`  ${u.agentId}: ${u.pending} pending; --map ${u.agentId}=${u.suggestion ?? '<agent>'} or --skip ${u.agentId}`);
  }
  if (r.imported.length > 0) {
    o.out(`\n${verb} (in delivery order per agent):`);
    o.out(
      table(
        ['OLD', 'FROM', 'AGENT', 'PRI', 'AS', 'TEXT'],
        r.imported.map((m) => [String(m.toId), m.from, m.agent, String(m.priority), m.redelivery ? 'redelivery' : 'queued', short(m.body)]),
      ),
    );
  }
  for (const a of r.agents) if (a.changed.length > 0) o.out(`${r.dryRun ? 'would carry' : 'carried'} ${a.from} → ${a.agent}: ${a.changed.join(', ')}`);
  for (const c of r.contexts) o.out(`${r.dryRun ? 'would carry' : 'carried'} context ${c.from} → ${c.agent}: ${c.fields.join(', ')}`);
  const skippedBy = new Map<string, number>();
  for (const s of r.skipped) skippedBy.set(s.reason, (skippedBy.get(s.reason) ?? 0) + 1);
  o.out(
    `\n${verb} ${r.imported.length} message${r.imported.length === 1 ? '' : 's'}${r.already ? `; ${r.already} imported by an earlier run` : ''}${[...skippedBy].map(([why, n]) => `; ${n} not carried (${why})`).join('')}${
      r.dependencies ? `; ${r.dependencies} named a dependency, kept as their order` : ''
    }`,
  );
  if (!r.dryRun && r.imported.length + r.already > 0) o.out(`old ids work as agent names now (e.g. hornets-tui send ${r.mapping.find((m) => m.to)?.from ?? '<session:window>'} "…")`);
}

export async function migrateInCommand(
  o: Output,
  g: GlobalOptions,
  db: string,
  opts: { map?: string[]; skip?: string[]; dryRun?: boolean; json?: boolean; fromTmux?: string | boolean },
): Promise<void> {
  const ctx = await openProject({ configPath: g.config, component: 'migrate' });
  try {
    const r = await migrateIn(ctx, db, opts);
    if (opts.json) json(o, r);
    else printIn(o, r);
    // A dry run with agents left to map says so in its exit code too: a real run would refuse.
    if (r.dryRun && r.unmapped.length > 0) process.exitCode = 2;
  } finally {
    await ctx.close();
  }
}

function printRollback(o: Output, r: RollbackReport): void {
  const verb = r.dryRun ? 'would write' : 'wrote';
  if (r.written.length > 0)
    o.out(
      table(
        ['HORNETS ID', 'OLD ID', 'PRI', 'TEXT'],
        r.written.map((m) => [m.hornetsId, m.agentId, String(m.priority), short(m.body)]),
      ),
    );
  o.out(
    `${verb} ${r.written.length} pending message${r.written.length === 1 ? '' : 's'} into ${r.database}${r.created ? ' (a new database)' : ''}${
      r.kept ? `; ${r.kept} migrated from it and still pending kept there` : ''
    }${r.settled ? `; ${r.settled} migrated from it and finished by hornets ${r.dryRun ? 'would be marked' : 'marked'} delivered` : ''}${r.already ? `; ${r.already} written by an earlier rollback` : ''}`,
  );
  if (!r.dryRun) o.out("next: `hornets-tui down` and `hornets-tui hooks uninstall --all` give the worktrees back to Tmux-Orchestrator's hooks");
}

export async function rollbackCommand(o: Output, g: GlobalOptions, db: string, opts: { map?: string[]; dryRun?: boolean; json?: boolean }): Promise<void> {
  const ctx = await openProject({ configPath: g.config, component: 'migrate' });
  try {
    const r = await rollbackOut(ctx, db, opts);
    if (opts.json) json(o, r);
    else printRollback(o, r);
  } finally {
    await ctx.close();
  }
}
