import { UsageError } from '../errors.js';

const units: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** A duration of hornets.json (a string such as "30s", or a number of seconds) in milliseconds. */
export function durationMs(v: string | number): number {
  return typeof v === 'number' ? Math.round(v * 1000) : parseDuration(v);
}

/** Parses `500ms`, `30s`, `5m`, `2h`, `1d`, `1h30m` or a bare number of seconds into milliseconds. */
export function parseDuration(input: string, what = 'duration'): number {
  const text = input.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const ms = Math.round(Number(text) * 1000);
    if (ms <= 0) throw new UsageError(`invalid ${what} "${input}": must be longer than zero`);
    return ms;
  }
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  let match: RegExpExecArray | null;
  while ((match = re.exec(text)) !== null) {
    total += Number(match[1]) * (units[match[2]!] ?? 0);
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length) {
    throw new UsageError(`invalid ${what} "${input}": expected e.g. 30s, 5m, 2h, 1d or 1h30m`);
  }
  if (total <= 0) throw new UsageError(`invalid ${what} "${input}": must be longer than zero`);
  return Math.round(total);
}

export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)}ms`;
  if (abs < 60_000) return `${(ms / 1000).toFixed(abs < 10_000 ? 1 : 0)}s`;
  if (abs < 3_600_000) return `${Math.floor(ms / 60_000)}m${Math.round((abs % 60_000) / 1000)}s`;
  if (abs < 86_400_000) return `${Math.floor(ms / 3_600_000)}h${Math.round((abs % 3_600_000) / 60_000)}m`;
  return `${Math.floor(ms / 86_400_000)}d${Math.round((abs % 86_400_000) / 3_600_000)}h`;
}
