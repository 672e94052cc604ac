/** Terminal output helpers for CLI commands (the console has its own views). */
import { formatDuration } from '../domain/duration.js';

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: Output = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

export function json(o: Output, value: unknown): void {
  o.out(JSON.stringify(value, null, 2));
}

// Named, so a formatter reflowing the call below cannot separate them from their lint exemption.
// eslint-disable-next-line no-control-regex
const ESCAPE_SEQUENCE = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_RUN = /[\x00-\x1f\x7f-\x9f]+/g;

/** One printable line: control characters and escape sequences cannot reach the user's terminal. */
export function preview(text: string, max = 60): string {
  const flat = text.replace(ESCAPE_SEQUENCE, '').replace(CONTROL_RUN, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function age(ts: number, now = Date.now()): string {
  return formatDuration(Math.max(0, now - ts));
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
