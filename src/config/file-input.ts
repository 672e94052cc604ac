/**
 * Parsing of the files and inputs people drop or hand in (trigger, task and worker task files, `task
 * add`): priorities, durations, zod issues as one readable line. Shared by the engine's intake and
 * the CLI, which must not import the daemon.
 */
import * as z from 'zod';
import { durationMs } from './schema.js';
import { isValidPriority, parsePriority, PRIORITY_MAX, PRIORITY_MIN } from '../domain/priority.js';
import { errorMessage } from '../errors.js';

/** A task id: a file name stem as well, so no path characters. */
export const TASK_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const priorityInput = z.union([z.number(), z.string()]);
export const durationInput = z.union([z.string(), z.number()]);

/** A priority from a file: an integer 0–200 or a band name; throws a readable message. */
export function readPriority(v: number | string): number {
  if (typeof v === 'number') {
    if (!isValidPriority(v)) throw new Error(`priority ${v} is invalid: expected an integer ${PRIORITY_MIN}–${PRIORITY_MAX} or a name (low, normal, high, critical, emergency)`);
    return v;
  }
  try {
    return parsePriority(v);
  } catch (err) {
    throw new Error(errorMessage(err));
  }
}

/** A duration from a file: "30s", "5m", … or a number of seconds. */
export function readDuration(v: string | number, what: string): number {
  if (typeof v === 'number') {
    if (!(v > 0) || !Number.isFinite(v)) throw new Error(`${what} must be a positive number of seconds or a duration such as "30s", got ${v}`);
    return Math.round(v * 1000);
  }
  try {
    return durationMs(v);
  } catch {
    throw new Error(`${what} "${v}" is not a duration: expected e.g. "30s", "5m", "2h" or a number of seconds`);
  }
}

/** zod issues as one line: `field: problem; field: problem`. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(file)'}: ${i.message}`).join('; ');
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
