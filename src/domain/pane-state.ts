/** Reading an agent's screen when no hook state is known. Pure: patterns and text in, verdict out. */

export type PaneVerdict = 'permission' | 'busy' | 'idle' | 'error' | 'unknown';

export interface PanePatterns {
  idle: string[];
  busy: string[];
  permission: string[];
  error: string[];
  /**
   * How many of the last lines (after trailing blank ones) are the agent's live region (prompt,
   * spinner, status bar, permission dialog). Everything is read only there: a spinner line or a
   * question an agent printed turns ago, still on screen, must not make it look busy or asking.
   */
  liveLines?: number;
}

export interface PaneReading {
  verdict: PaneVerdict;
  /** The screen line that decided a permission, busy or error verdict (for logs and `why`). */
  line: string | null;
}

export interface ReadOptions {
  /**
   * Texts hornets typed into this pane recently. Their echo is ours, never the agent's: a message
   * that says "(yes/no)" is not a prompt because the shell shows it on its input line.
   */
  typed?: readonly string[];
}

const cache = new Map<string, RegExp>();
function re(p: string): RegExp {
  let r = cache.get(p);
  if (!r) {
    r = new RegExp(p, 'm');
    cache.set(p, r);
  }
  return r;
}

function squash(s: string): string {
  return s.replace(/\s+/g, '');
}

/**
 * A text longer than this (squashed) may have scrolled partly off screen; only its end is looked for,
 * and the lines above that belong to it are found by containment. No prompt line is this long.
 */
const LONG_TYPED = 200;

/** Indexes of the screen lines that show text hornets typed (its echo, wrapped or not). */
export function typedLineIndexes(lines: readonly string[], typed: readonly string[]): Set<number> {
  const mine = new Set<number>();
  if (typed.length === 0) return mine;
  const squashed = lines.map(squash);
  const starts: number[] = [];
  let joined = '';
  for (const s of squashed) {
    starts.push(joined.length);
    joined += s;
  }
  const lineAt = (offset: number): number => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  for (const text of typed) {
    const whole = squash(text);
    // Too short to tell from anything else on screen ("y", "ok").
    if (whole.length < 4) continue;
    const probe = whole.length > LONG_TYPED ? whole.slice(-LONG_TYPED) : whole;
    for (let at = joined.indexOf(probe); at !== -1; at = joined.indexOf(probe, at + 1)) {
      const first = lineAt(at);
      const last = lineAt(at + probe.length - 1);
      for (let i = first; i <= last; i++) mine.add(i);
      if (probe !== whole) for (let i = first - 1; i >= 0 && squashed[i] !== '' && whole.includes(squashed[i]!); i--) mine.add(i);
    }
  }
  return mine;
}

/**
 * The verdict from the live region at the bottom of the screen, with the line that decided it.
 *
 * A permission prompt counts only in the live region, below the last idle prompt line there (the
 * real CLIs draw their dialogs in place of the input line: an input line below a question means the
 * question was answered or was just text), and never on lines that show what hornets typed. It then
 * wins over busy and idle: a keystroke there would answer it. Busy and error come from the rest of
 * the live region; idle from the line the cursor sits on, usually the last one.
 */
export function readPane(patterns: PanePatterns, screen: string, options: ReadOptions = {}): PaneReading {
  const lines = screen.split('\n').map((l) => l.replace(/\s+$/, ''));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const mine = typedLineIndexes(lines, options.typed ?? []);
  const from = Math.max(0, lines.length - Math.max(1, patterns.liveLines ?? 12));
  const live: { text: string; index: number }[] = [];
  for (let i = from; i < lines.length; i++) if (!mine.has(i)) live.push({ text: lines[i]!, index: i });
  const isIdle = (l: string) => patterns.idle.some((p) => re(p).test(l) || re(p).test(`${l} `));
  const matching = (list: string[]) => live.find((l) => list.some((p) => re(p).test(l.text)));

  let lastIdle = -1;
  for (const l of live) if (isIdle(l.text)) lastIdle = l.index;
  for (let k = live.length - 1; k >= 0 && live[k]!.index > lastIdle; k--) {
    const l = live[k]!;
    if (patterns.permission.some((p) => re(p).test(l.text))) return { verdict: 'permission', line: l.text.trim() };
  }
  const busy = matching(patterns.busy);
  if (busy) return { verdict: 'busy', line: busy.text.trim() };
  const last = lines[lines.length - 1] ?? '';
  if (!mine.has(lines.length - 1) && isIdle(last)) return { verdict: 'idle', line: null };
  const error = matching(patterns.error);
  if (error) return { verdict: 'error', line: error.text.trim() };
  return { verdict: 'unknown', line: null };
}

export function classifyPane(patterns: PanePatterns, screen: string, options: ReadOptions = {}): PaneVerdict {
  return readPane(patterns, screen, options).verdict;
}
