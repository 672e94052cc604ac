/**
 * pino to a file under the state dir: the console owns the terminal, so nothing is ever logged to
 * stdout/stderr. Secrets (tokens, API keys) are redacted by path.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';

export type { Logger };

export const redactPaths = [
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'env.ANTHROPIC_API_KEY',
  'env.OPENAI_API_KEY',
  'env.GEMINI_API_KEY',
  'env.HORNETS_TOKEN',
  '*.env.ANTHROPIC_API_KEY',
  '*.env.OPENAI_API_KEY',
  '*.env.GEMINI_API_KEY',
];

export function createLogger(logFile: string, options: { level?: string; name?: string } = {}): Logger {
  mkdirSync(dirname(logFile), { recursive: true, mode: 0o700 });
  // Create 0600 ourselves; pino would use the umask.
  closeSync(openSync(logFile, 'a', 0o600));
  // sync: short-lived CLI and hook processes exit right after logging and must not lose the line.
  const destination = pino.destination({ dest: logFile, sync: true, mkdir: true });
  // A failed write (ENOSPC, EROFS) must never surface as an error of the operation being logged:
  // after `send` committed, that would report a queued message as failed and invite a duplicate.
  destination.on('error', () => undefined);
  return pino(
    {
      name: options.name ?? 'hornets',
      level: options.level ?? process.env.HORNETS_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: redactPaths, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** For code paths that run before a state dir exists (or in tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
