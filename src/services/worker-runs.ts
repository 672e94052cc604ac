/**
 * Run directories of task workers, `<state>/runs/<worker>/<task>/<attempt>/` (spec, pid, output,
 * exit): each run's scratch files, which nothing needs once its task has ended and its result file
 * is written. They go with the queue history (retention.maxAge, by the engine and `queue prune`).
 *
 * What an engine could still need stays: the runs of a task that is open (queued, running,
 * retrying: a restarted engine adopts a running one by its directory), those of an ended task
 * whose result file is missing (they are then its only record), and any attempt newer than the
 * ones the task had when it was looked at (a requeue in between starts a new attempt).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { endedWorkerTaskStates, type WorkerTask } from '../domain/worker-task.js';

export interface RunDirPruneOptions {
  /** `<state>/runs`. */
  runs: string;
  /** `<state>/results`: an ended task's result file must be there. */
  results: string;
  store: { getWorkerTask(taskId: string): Promise<WorkerTask | null> };
  olderThanMs: number;
  now: number;
  /** Tasks whose run an engine has out right now (kept whatever the store says). */
  busy?: ReadonlySet<string>;
}

export interface RunDirPruneResult {
  /** Task directories removed. */
  removed: number;
  /** Task directories kept (open, too recent, no result file). */
  kept: number;
  cutoff: number;
}

/** `<state>/runs` of a state directory. */
export function runsDir(stateRoot: string): string {
  return join(stateRoot, 'runs');
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/** The newest modification time in a task directory (itself, its attempts and their files). */
function newestMtime(dir: string): number {
  let newest = 0;
  const look = (p: string) => {
    try {
      newest = Math.max(newest, statSync(p).mtimeMs);
    } catch {
      // gone meanwhile
    }
  };
  look(dir);
  for (const attempt of subdirs(dir)) {
    const a = join(dir, attempt);
    look(a);
    try {
      for (const f of readdirSync(a)) look(join(a, f));
    } catch {
      // gone meanwhile
    }
  }
  return newest;
}

export async function pruneRunDirs(o: RunDirPruneOptions): Promise<RunDirPruneResult> {
  const cutoff = o.now - o.olderThanMs;
  let removed = 0;
  let kept = 0;
  for (const worker of subdirs(o.runs)) {
    for (const taskId of subdirs(join(o.runs, worker))) {
      const dir = join(o.runs, worker, taskId);
      if (o.busy?.has(taskId)) {
        kept++;
        continue;
      }
      const task = await o.store.getWorkerTask(taskId);
      if (!task) {
        // Its row went with the history (only ended tasks' rows are pruned) or never was: nothing
        // can adopt it; it goes once nothing in it changed for the retention.
        if (newestMtime(dir) < cutoff) {
          await rm(dir, { recursive: true, force: true });
          removed++;
        } else kept++;
        continue;
      }
      const ended = (endedWorkerTaskStates as readonly string[]).includes(task.state);
      if (task.worker !== worker || !ended || task.completedAt === null || task.completedAt >= cutoff || !existsSync(join(o.results, worker, `${taskId}.json`))) {
        kept++;
        continue;
      }
      // Only the attempts it had: a run started by a requeue since is not touched.
      for (const attempt of subdirs(dir)) {
        const n = Number(attempt);
        if (Number.isInteger(n) && n >= 1 && n <= task.attempts) await rm(join(dir, attempt), { recursive: true, force: true });
      }
      try {
        await rmdir(dir);
        removed++;
      } catch {
        kept++; // something else in it (a new attempt): left alone
      }
    }
  }
  return { removed, kept, cutoff };
}
