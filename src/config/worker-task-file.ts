/**
 * A worker's task file, `.hornets/tasks/<worker>/<task_id>.json`, in seed 003's format
 * ({task_id, description, worker, metadata?}) with hornets' optional fields (priority, timeout,
 * max_retries, from, worktree). Anything wrong is thrown as the DLQ reason.
 */
import * as z from 'zod';
import { TASK_ID_RE, durationInput, formatIssues, isObject, priorityInput, readDuration, readPriority } from './file-input.js';

const workerTaskSchema = z
  .object({
    task_id: z.string().regex(TASK_ID_RE, { message: 'must be 1–128 characters: letters, digits, ".", "_" or "-", starting with a letter or digit' }).optional(),
    description: z.string({ error: 'is required and must be a string' }),
    worker: z.string().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    priority: priorityInput.optional(),
    timeout: durationInput.optional(),
    max_retries: z.number().int().min(0).max(100).optional(),
    from: z.string().optional(),
    worktree: z.string().min(1).optional(),
  })
  .loose();

export interface WorkerTaskFileInput {
  taskId: string;
  description: string;
  metadata: Record<string, unknown> | null;
  priority: number | null;
  timeoutMs: number | null;
  maxRetries: number | null;
  from: string | null;
  worktree: string | null;
}

/** `stem` is the file name without `.json` (the task id when the file names none). */
export function parseWorkerTask(json: unknown, stem: string, worker: string, agents: readonly string[]): WorkerTaskFileInput {
  if (!isObject(json)) throw new Error(`expected a JSON object with "task_id" and "description", got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`);
  const r = workerTaskSchema.safeParse(json);
  if (!r.success) throw new Error(`wrong fields: ${formatIssues(r.error)}`);
  const t = r.data;
  const taskId = t.task_id ?? stem;
  if (!TASK_ID_RE.test(taskId)) throw new Error(`wrong fields: no valid "task_id" and the file name "${stem}" cannot serve as one`);
  if (t.description.trim() === '') throw new Error('empty text: "description" has no content');
  if (t.worker !== undefined && t.worker !== worker) throw new Error(`wrong fields: worker: "${t.worker}" but the file is in tasks/${worker}/`);
  if (t.from !== undefined && !agents.includes(t.from)) throw new Error(`wrong fields: from: "${t.from}" is not a configured agent (agents: ${agents.join(', ')})`);
  return {
    taskId,
    description: t.description,
    metadata: t.metadata ?? null,
    priority: t.priority === undefined ? null : readPriority(t.priority),
    timeoutMs: t.timeout === undefined ? null : readDuration(t.timeout, 'timeout'),
    maxRetries: t.max_retries ?? null,
    from: t.from ?? null,
    worktree: t.worktree ?? null,
  };
}

/** The prompt a run gets: the description, and the metadata when there is some. */
export function taskPrompt(description: string, metadata: string | null): string {
  return metadata && metadata !== '{}' ? `${description}\n\nTask metadata (JSON): ${metadata}` : description;
}
