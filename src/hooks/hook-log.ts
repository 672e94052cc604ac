/**
 * A pino-compatible JSON-lines appender for hook processes. pino itself costs ~20 ms to load, and
 * a hook runs on every tool call, so hooks write the same line format with one appendFileSync.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isoTime } from '../util/iso-time.js';

const APPEND_NOFOLLOW = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
const levels = { debug: 20, info: 30, warn: 40, error: 50 } as const;

export interface HookLog {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export function hookLog(stateDir: string | undefined, base: Record<string, unknown>): HookLog {
  const file = stateDir ? join(stateDir, 'logs', 'hornets.log') : null;
  const write = (level: keyof typeof levels, obj: Record<string, unknown>, msg: string) => {
    if (!file) return;
    try {
      // O_NOFOLLOW: a log replaced by a symlink must not have our lines appended to its target.
      const fd = openSync(file, APPEND_NOFOLLOW, 0o600);
      try {
        writeSync(fd, `${JSON.stringify({ level: levels[level], time: isoTime(), pid: process.pid, name: 'hornets', component: 'hook', ...base, ...obj, msg })}\n`);
      } finally {
        closeSync(fd);
      }
    } catch {
      // Logging must never be the reason a hook fails.
    }
  };
  return {
    info: (o, m) => write('info', o, m),
    warn: (o, m) => write('warn', o, m),
    error: (o, m) => write('error', o, m),
  };
}
