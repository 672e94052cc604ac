/** Reading an agent's screen when no hook state is known. Pure: patterns and text in, verdict out. */

export type PaneVerdict = 'permission' | 'busy' | 'idle' | 'error' | 'unknown';

export interface PanePatterns {
  idle: string[];
  busy: string[];
  permission: string[];
  error: string[];
  /**
   * How many of the last non-empty lines are the agent's live region (prompt, spinner, status
   * bar). Busy and idle are read only there: a spinner line an agent printed turns ago, still on
   * screen, must not make it look busy forever.
   */
  liveLines?: number;
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

/**
 * A permission prompt anywhere in the last `tailLines` non-empty lines wins over everything (a
 * keystroke there would answer it; dialogs are taller than a prompt line, and refusing to type is
 * the safe mistake). Busy and idle come from the live region at the bottom only.
 */
export function classifyPane(patterns: PanePatterns, screen: string, tailLines = 12): PaneVerdict {
  const lines = screen.split('\n').map((l) => l.replace(/\s+$/, ''));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const tail = lines.slice(-tailLines).join('\n');
  const live = lines.slice(-Math.max(1, patterns.liveLines ?? tailLines)).join('\n');
  const last = lines[lines.length - 1] ?? '';
  if (patterns.permission.some((p) => re(p).test(tail))) return 'permission';
  if (patterns.busy.some((p) => re(p).test(live))) return 'busy';
  // Idle patterns are anchored to the line the cursor sits on, usually the last one.
  if (patterns.idle.some((p) => re(p).test(last) || re(p).test(`${last} `))) return 'idle';
  if (patterns.error.some((p) => re(p).test(live))) return 'error';
  return 'unknown';
}
