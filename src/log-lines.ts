/**
 * The log of short CLI commands (the lean entry, src/cli-hot.ts): the same JSON lines as the pino
 * logger of log.ts (same fields in the same order, same levels, same redaction, same rotating
 * file), written synchronously by a few lines of code. Loading pino (worker threads, streams, its
 * serializers) cost a `send` more than the rest of its logging put together, for one or two lines.
 * Long-running processes and the full CLI keep pino.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { RotatingFile, type RotationOptions } from './log-rotation.js';
import { isoTime } from './util/iso-time.js';

/** Secret fields never written (pino's `redact` paths in log.ts; `*` is any key). */
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
export const CENSOR = '[redacted]';

const levels: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
const redactSegments = redactPaths.map((p) => p.split('.'));

type Fields = Record<string, unknown>;

function censor(o: Fields, segs: readonly string[]): void {
  const [head, ...rest] = segs;
  for (const k of head === '*' ? Object.keys(o) : Object.hasOwn(o, head!) ? [head!] : []) {
    const v = o[k];
    if (rest.length === 0) o[k] = CENSOR;
    else if (v !== null && typeof v === 'object') censor(v as Fields, rest);
  }
}

/** A copy of `fields` as pino would write them: `err` as pino's serializer does, secrets censored. */
function prepare(fields: Fields): Fields {
  const err = fields.err;
  const plain = err instanceof Error ? { ...fields, err: { type: err.name, message: err.message, stack: err.stack } } : fields;
  const copy = JSON.parse(JSON.stringify(plain)) as Fields;
  for (const segs of redactSegments) censor(copy, segs);
  return copy;
}

/** The part of pino's interface hornets uses. */
class LineLogger {
  constructor(
    private readonly out: RotatingFile | null,
    readonly level: string,
    private readonly threshold: number,
    /** `"pid":…,"name":…` and the child bindings, already serialised, with a leading comma. */
    private readonly bindings: string,
  ) {}

  private write(level: number, a: unknown, b?: unknown): void {
    if (level < this.threshold) return;
    const [fields, msg] = typeof a === 'string' ? [{}, a] : [(a ?? {}) as Fields, typeof b === 'string' ? b : undefined];
    const body = JSON.stringify(prepare(fields)).slice(1, -1);
    const line = `{"level":${level},"time":"${isoTime()}"${this.bindings}${body ? `,${body}` : ''}${msg !== undefined ? `,"msg":${JSON.stringify(msg)}` : ''}}\n`;
    this.out?.write(line);
  }

  trace = (a: unknown, b?: unknown) => this.write(10, a, b);
  debug = (a: unknown, b?: unknown) => this.write(20, a, b);
  info = (a: unknown, b?: unknown) => this.write(30, a, b);
  warn = (a: unknown, b?: unknown) => this.write(40, a, b);
  error = (a: unknown, b?: unknown) => this.write(50, a, b);
  fatal = (a: unknown, b?: unknown) => this.write(60, a, b);

  isLevelEnabled(level: string): boolean {
    return (levels[level] ?? Infinity) >= this.threshold;
  }

  child(bindings: Fields): LineLogger {
    const body = JSON.stringify(prepare(bindings)).slice(1, -1);
    return new LineLogger(this.out, this.level, this.threshold, body ? `${this.bindings},${body}` : this.bindings);
  }

  /** Every line is already written (one write(2) each). */
  flush(): void {}
}

/** The line logger, typed as pino's: callers cannot tell them apart (see the header). */
export function createLineLogger(logFile: string, options: { level?: string; name?: string; rotation?: RotationOptions } = {}): Logger {
  const level = options.level ?? 'info';
  const threshold = levels[level];
  if (threshold === undefined) throw new Error(`unknown level ${level}`); // as pino: the caller falls back to no log
  mkdirSync(dirname(logFile), { recursive: true, mode: 0o700 });
  const bindings = `,"pid":${process.pid},"name":${JSON.stringify(options.name ?? 'hornets')}`;
  return new LineLogger(new RotatingFile(logFile, options.rotation), level, threshold, bindings) as unknown as Logger;
}

/** Writes nothing (no state dir, or its log file cannot be opened). */
export function silentLineLogger(): Logger {
  return new LineLogger(null, 'silent', Infinity, '') as unknown as Logger;
}
