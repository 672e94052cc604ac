/** The tasks view: each task worker with its breaker, counts and slots, then its tasks, newest first. */
import type { Breaker, TaskRow, TasksSection, WorkerRow } from '../../services/snapshot.js';
import type { WorkerTaskState } from '../../domain/worker-task.js';
import type { Role, Theme } from '../theme.js';
import { age, clean, esc, fit } from '../text.js';
import { SELECT_MARK, usageText } from './agents.js';
import { totalTokens } from '../../domain/usage.js';

const stateRoles: Record<WorkerTaskState, Role> = {
  queued: 'waiting',
  running: 'busy',
  retrying: 'attention',
  completed: 'ok',
  failed: 'bad',
  cancelled: 'muted',
};

const breakerRoles: Record<Breaker, Role> = { closed: 'ok', open: 'bad', 'half-open': 'waiting' };

/** "4m05s" to the half-open trial: a countdown someone may be watching, in whole seconds. */
export function countdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** An ended run's length: tenths under ten seconds (demo runs take a fraction of one), else as ages are (a running one's counts in whole seconds). */
export function runLength(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : age(ms);
}

const USAGE_W = 12;

/** Tokens and cost over all the task's runs (`1.2k $0.03`), `-` before a run reported any. */
export function taskUsageText(r: Pick<TaskRow, 'usage'>): string {
  return r.usage.runs === 0 ? '-' : usageText({ tokens: totalTokens(r.usage), costUsd: r.usage.costUsd });
}

export function breakerText(w: WorkerRow, now: number): string {
  if (w.breaker === null) return 'unknown (no engine heartbeat yet)';
  if (w.breaker === 'open') return w.halfOpenAt !== null ? `open, trial in ${countdown(w.halfOpenAt - now)}` : 'open';
  if (w.breaker === 'half-open') return 'half-open, trial run';
  return 'closed';
}

export interface TasksViewOptions {
  width: number;
  height: number;
  /** Index into the tasks of the selected one, or -1. */
  selected: number;
  /** First task shown. */
  offset: number;
  now: number;
  theme: Theme;
}

/** Lines above the task rows: the workers' table, a blank line and the tasks' header. */
export function taskListTop(section: TasksSection): number {
  return section.workers.length + 3;
}

/** How many task rows fit (one line is kept for "… n more"). */
export function taskCapacity(section: TasksSection, height: number): number {
  return Math.max(1, height - taskListTop(section) - 1);
}

export function renderTasks(section: TasksSection, o: TasksViewOptions): string {
  const t = o.theme;
  const line = (text: string, role?: Role) => (role ? t.paint(esc(fit(text, o.width)), role) : esc(fit(text, o.width)));
  if (!section.available || (section.note && section.workers.length === 0)) return line(` ${section.note ?? 'no task workers'}`, 'muted');

  const nameW = Math.min(20, Math.max(6, ...section.workers.map((w) => w.name.length)));
  const lines = [t.paint(esc(fit(`  ${fit('WORKER', nameW)} ${fit('RUNNING', 7, 'right')} ${fit('QUEUED', 6, 'right')} ${fit('SLOTS', 5, 'right')}  BREAKER`, o.width)), 'bold')];
  for (const w of section.workers) {
    const head = `  ${fit(w.name, nameW)} ${fit(String(w.running), 7, 'right')} ${fit(String(w.queued), 6, 'right')} ${fit(String(w.slots), 5, 'right')}  `;
    const rest = Math.max(0, o.width - head.length);
    lines.push(`${esc(head)}${t.paint(esc(fit(breakerText(w, o.now), rest)), w.breaker ? breakerRoles[w.breaker] : 'muted')}`);
  }
  lines.push('');

  const tasks = section.tasks;
  const idW = Math.min(28, Math.max(4, ...tasks.map((x) => x.id.length)));
  const workerW = Math.min(16, Math.max(6, ...tasks.map((x) => x.worker.length)));
  lines.push(
    t.paint(
      esc(
        fit(
          `  ${fit('TASK', idW)} ${fit('WORKER', workerW)} ${fit('STATE', 9)} ${fit('RUNS', 4, 'right')} ${fit('AGE', 4, 'right')} ${fit('TIME', 5, 'right')} ${fit('USAGE', USAGE_W, 'right')}  LAST ERROR`,
          o.width,
        ),
      ),
      'bold',
    ),
  );
  if (tasks.length === 0) {
    lines.push(line('  no tasks yet (hornets-tui task add <worker> <description>, or a file in tasks/<worker>/)'));
    return lines.join('\n');
  }
  const capacity = taskCapacity(section, o.height);
  let shown = 0;
  for (let i = o.offset; i < tasks.length && shown < capacity; i++, shown++) lines.push(taskLine(tasks[i]!, i === o.selected, idW, workerW, o));
  const more = tasks.length - o.offset - shown;
  if (more > 0) lines.push(line(`  … ${more} more`, 'muted'));
  return lines.join('\n');
}

function taskLine(r: TaskRow, selected: boolean, idW: number, workerW: number, o: TasksViewOptions): string {
  const t = o.theme;
  const head = `${selected ? SELECT_MARK : ' '} ${fit(r.id, idW)} ${fit(r.worker, workerW)} `;
  const tail = ` ${fit(String(r.attempts), 4, 'right')} ${fit(age(r.ageMs), 4, 'right')} ${fit(r.state === 'running' ? age(r.durationMs) : runLength(r.durationMs), 5, 'right')} ${fit(taskUsageText(r), USAGE_W, 'right')}  `;
  const used = head.length + 9 + tail.length;
  const error = r.lastError ? fit(clean(r.lastError), Math.max(0, o.width - used)) : '';
  const text = `${esc(head)}${t.paint(esc(fit(r.state, 9)), stateRoles[r.state])}${esc(tail)}${r.lastError ? t.paint(esc(error), 'bad') : ''}`;
  return selected ? `{inverse}${text}{/inverse}` : text;
}
