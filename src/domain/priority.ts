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

export type PriorityBandName = 'normal' | 'high' | 'critical' | 'emergency' | 'rebrief';

/** The priorities of each band (inclusive), as priorityBand draws them. */
export const priorityBands: readonly { band: PriorityBandName; min: number; max: number }[] = [
  { band: 'normal', min: 0, max: 9 },
  { band: 'high', min: 10, max: 49 },
  { band: 'critical', min: 50, max: 99 },
  { band: 'emergency', min: 100, max: 199 },
  { band: 'rebrief', min: 200, max: 200 },
];

export function priorityBand(p: number): PriorityBandName {
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
