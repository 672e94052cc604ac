/** `send` and `queue …` command handlers. Each opens the project, does one thing, closes. */
import { readFileSync } from 'node:fs';
import { QueueError, UsageError } from '../errors.js';
import { parseDuration } from '../domain/duration.js';
import { openProject, type ProjectContext } from '../services/context.js';
import { MIN_PRUNE_AGE_MS } from '../queue/store.js';
import { durationMs } from '../config/schema.js';
import { resolveDaemonConfig } from '../config/env.js';
import type { QueueService } from '../services/queue-service.js';
import { workerTaskStoreOf } from '../services/worker-tasks.js';
import { pruneRunDirs, runsDir } from '../services/worker-runs.js';
import { age, json, preview, table, type Output } from './output.js';
import { writeFileAtomicSync } from '../util/private-files.js';
import * as hot from './hot-commands.js';
import { parseLimit, readStdin, withQueueService, type GlobalOptions, type OpenProject, type SendCliOptions } from './hot-commands.js';

export type { GlobalOptions, SendCliOptions } from './hot-commands.js';
export { readStdin } from './hot-commands.js';

/** The full CLI's way to open a project: validated, or from the validated-config cache. */
export function projectOpener(g: GlobalOptions): OpenProject {
  return (component) => openProject({ configPath: g.config, component });
}

function withService<T>(g: GlobalOptions, fn: (svc: QueueService, ctx: ProjectContext) => Promise<T>): Promise<T> {
  return withQueueService(projectOpener(g), fn);
}

export function sendCommand(o: Output, g: GlobalOptions, agent: string, words: string[], opts: SendCliOptions): Promise<string> {
  return hot.sendCommand(o, projectOpener(g), agent, words, opts);
}

export function listCommand(o: Output, g: GlobalOptions, agent: string | undefined, opts: { state?: string; all?: boolean; limit?: string; json?: boolean }): Promise<void> {
  return hot.listCommand(o, projectOpener(g), agent, opts);
}

export async function statsCommand(o: Output, g: GlobalOptions, opts: { json?: boolean }): Promise<void> {
  const stats = await withService(g, (svc) => svc.stats());
  if (opts.json) return json(o, stats);
  const now = Date.now();
  const rows = stats.agents.map((a) => [
    a.agent,
    String(a.counts.queued + a.counts.failed),
    String(a.counts.leased + a.counts.delivered),
    String(a.counts.confirmed),
    String(a.counts.dead),
    String(a.counts.expired + a.counts.cancelled),
    a.oldestWaitingAt !== null ? age(a.oldestWaitingAt, now) : '-',
  ]);
  o.out(table(['AGENT', 'WAITING', 'IN-FLIGHT', 'CONFIRMED', 'DEAD', 'EXPIRED/CANCELLED', 'OLDEST WAITING'], rows));
}

export async function showCommand(o: Output, g: GlobalOptions, id: string, opts: { json?: boolean }): Promise<void> {
  const { message, events, why } = await withService(g, async (svc, ctx) => {
    const message = await ctx.store.get(id);
    return { message, events: await ctx.store.events({ messageId: message.id }), why: (await svc.explain(message.id)).why };
  });
  if (opts.json) return json(o, { message, why, events });
  const lines = [
    `id:        ${message.id}`,
    `agent:     ${message.agent}`,
    `state:     ${message.state}`,
    `priority:  ${message.priority}`,
    `attempts:  ${message.attempts}/${message.maxAttempts}${message.redeliveries ? `, ${message.redeliveries} redeliveries` : ''}`,
    `sender:    ${message.sender !== null ? preview(message.sender, 200) : '-'}`,
    `key:       ${message.key !== null ? preview(message.key, 200) : '-'}`,
    `created:   ${new Date(message.createdAt).toISOString()}`,
    `expires:   ${message.expiresAt !== null ? new Date(message.expiresAt).toISOString() : 'never'}`,
    `why:       ${why}`,
    '',
    preview(message.body, 2000),
    '',
    'history:',
    ...events.map(
      (e) =>
        `  ${new Date(e.ts).toISOString()}  ${e.kind.padEnd(14)} ${e.fromState ?? ''}${e.fromState || e.toState ? ' -> ' : ''}${e.toState ?? ''}${e.detail ? `  ${JSON.stringify(e.detail)}` : ''}`,
    ),
  ];
  o.out(lines.join('\n'));
}

export async function whyCommand(o: Output, g: GlobalOptions, id: string, opts: { json?: boolean }): Promise<void> {
  const e = await withService(g, (svc) => svc.explain(id));
  if (opts.json) return json(o, e);
  o.out(`${e.id}: ${e.why}`);
}

export async function cancelCommand(o: Output, g: GlobalOptions, ids: string[], opts: { reason?: string; json?: boolean }): Promise<void> {
  const reason = opts.reason ?? 'cancelled from the CLI';
  const done = await withService(g, (_svc, ctx) => ctx.store.cancel(ids, reason));
  if (opts.json)
    return json(
      o,
      done.map((m) => ({ id: m.id, state: m.state })),
    );
  for (const m of done) o.out(`cancelled ${m.id} (${m.agent})`);
}

export async function retryCommand(o: Output, g: GlobalOptions, ids: string[], opts: { json?: boolean }): Promise<void> {
  const done = await withService(g, (_svc, ctx) => ctx.store.retry(ids));
  if (opts.json)
    return json(
      o,
      done.map((m) => ({ id: m.id, state: m.state })),
    );
  for (const m of done) o.out(`requeued ${m.id} for ${m.agent} (fresh ${m.maxAttempts} attempts)`);
}

export async function dlqCommand(o: Output, g: GlobalOptions, agent: string | undefined, opts: { limit?: string; json?: boolean }): Promise<void> {
  const limit = parseLimit(opts.limit, 200);
  const dead = await withService(g, (svc) => svc.list({ agent, states: ['dead'], limit }));
  if (opts.json) return json(o, dead);
  if (dead.length === 0) {
    o.out(`dead-letter queue is empty${agent ? ` for ${agent}` : ''}`);
    return;
  }
  const now = Date.now();
  o.out(
    table(
      ['ID', 'AGENT', 'PRI', 'DIED', 'REASON', 'TEXT'],
      dead.map((m) => [m.id, m.agent, String(m.priority), `${age(m.updatedAt, now)} ago`, preview(m.deadReason ?? m.lastError ?? '-', 60), preview(m.body, 40)]),
    ),
  );
}

export async function exportCommand(o: Output, g: GlobalOptions, opts: { agent?: string; output?: string }): Promise<void> {
  const { text, count, unreadable } = await withService(g, (svc) => svc.exportPending(opts.agent));
  if (opts.output && opts.output !== '-') {
    // Temp + rename: an existing file would keep its (maybe wider) mode with a plain write.
    writeFileAtomicSync(opts.output, text, 0o600);
    o.err(`exported ${count} pending message${count === 1 ? '' : 's'} to ${opts.output}`);
  } else {
    process.stdout.write(text);
  }
  if (unreadable !== null) {
    // The database is damaged: what could be read is exported; say what was not, and fail so a script notices.
    o.err(`the database is damaged: the export was salvaged row by row; ${unreadable} row${unreadable === 1 ? '' : 's'} could not be read`);
    process.exitCode = 1;
  }
}

export async function importCommand(o: Output, g: GlobalOptions, file: string, opts: { partial?: boolean; json?: boolean }): Promise<void> {
  let text: string;
  if (file === '-') text = readStdin();
  else {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(code === 'ENOENT' ? `cannot import ${file}: no such file` : `cannot read ${file}: ${(err as Error).message}`);
    }
  }
  const r = await withService(g, (svc) => svc.importText(text, { partial: opts.partial }));
  if (opts.json) json(o, r);
  else {
    for (const x of r.rejected) o.err(`line ${x.line}: ${x.message}`);
    // Already present is what a re-run of the same import expects; a key repeated inside the file is
    // two different messages of which only the first can be kept, so each is named.
    const repeats = r.skipped.filter((x) => x.repeatOf !== undefined);
    for (const x of repeats) o.err(`line ${x.line}: skipped: ${x.message} (only the first is imported)`);
    if (r.rejected.length > 0 && !opts.partial) {
      o.err(`nothing imported: ${r.rejected.length} bad line${r.rejected.length === 1 ? '' : 's'} (fix them, or pass --partial to import the good ones)`);
    } else {
      const present = r.skipped.length - repeats.length;
      o.out(
        `imported ${r.imported}, skipped ${present} already present${repeats.length ? `, skipped ${repeats.length} with a key repeated in the file` : ''}${r.rejected.length ? `, rejected ${r.rejected.length}` : ''}`,
      );
    }
  }
  if (r.rejected.length > 0) {
    throw new QueueError('import_invalid', `${r.rejected.length} line(s) rejected`, { rejected: r.rejected.length, reported: true });
  }
}

export async function pruneCommand(o: Output, g: GlobalOptions, opts: { olderThan?: string; compact?: boolean; json?: boolean }): Promise<void> {
  const r = await withService(g, async (_svc, ctx) => {
    // Without --older-than: retention.maxAge of hornets.json, or RETENTION_MAX_AGE over it.
    const olderThanMs = opts.olderThan !== undefined ? parseDuration(opts.olderThan, '--older-than') : durationMs(resolveDaemonConfig(ctx.project.config).config.retention.maxAge);
    if (olderThanMs < MIN_PRUNE_AGE_MS) throw new UsageError(`--older-than ${opts.olderThan} is too short: at least 1h (the engine counts restarts over the last hour)`);
    // The workers' run directories first, while the ended tasks' rows still say they ended.
    const workerTasks = workerTaskStoreOf(ctx.store);
    const runs = workerTasks ? await pruneRunDirs({ runs: runsDir(ctx.project.paths.root), results: ctx.project.paths.results, store: workerTasks, olderThanMs, now: Date.now() }) : null;
    return { ...(await ctx.store.prune({ olderThanMs, compact: opts.compact })), runDirs: runs?.removed ?? 0 };
  });
  if (opts.json) return json(o, { ...r, cutoffIso: new Date(r.cutoff).toISOString() });
  o.out(
    `pruned history older than ${new Date(r.cutoff).toISOString()}: ${r.messages} message${r.messages === 1 ? '' : 's'} (${r.events} events), ${r.tasks} task${r.tasks === 1 ? '' : 's'}, ${r.agentEvents} agent events, ${r.runDirs} run director${r.runDirs === 1 ? 'y' : 'ies'}; ${r.reclaimedBytes === null ? 'space freed for reuse' : `${formatBytes(r.reclaimedBytes)} given back to the file system`} (${r.ms} ms)`,
  );
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}
