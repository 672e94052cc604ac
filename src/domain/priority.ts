import { UsageError } from '../errors.js';

/** Priority bands from DESIGN.md §3: higher is delivered first, FIFO within one priority. */
export const PRIORITY_MIN = 0;
export const PRIORITY_MAX = 200;

export const namedPriorities = {
  low: 0,
  normal: 5,
  high: 20,
  critical: 50,
  emergency: 100,
  system: 100,
  rebrief: 200,
} as const;

export type PriorityName = keyof typeof namedPriorities;

export function priorityBand(p: number): 'normal' | 'high' | 'critical' | 'emergency' | 'rebrief' {
  if (p >= 200) return 'rebrief';
  if (p >= 100) return 'emergency';
  if (p >= 50) return 'critical';
  if (p >= 10) return 'high';
  return 'normal';
}

export function isValidPriority(p: unknown): p is number {
  return typeof p === 'number' && Number.isInteger(p) && p >= PRIORITY_MIN && p <= PRIORITY_MAX;
}

/** Accepts an integer 0–200 or a band name (`high`, `critical`, …). */
export function parsePriority(input: string): number {
  const text = input.trim().toLowerCase();
  if (Object.hasOwn(namedPriorities, text)) return namedPriorities[text as PriorityName];
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (isValidPriority(n)) return n;
  }
  throw new UsageError(`invalid priority "${input}": expected an integer ${PRIORITY_MIN}–${PRIORITY_MAX} or one of ${Object.keys(namedPriorities).join(', ')}`);
}
