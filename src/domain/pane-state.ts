/** Reading an agent's screen when no hook state is known. Pure: patterns and text in, verdict out. */

export type PaneVerdict = 'permission' | 'busy' | 'idle' | 'error' | 'unknown';

export interface PanePatterns {
  idle: string[];
  busy: string[];
  permission: string[];
  error: string[];
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
 * Looks at the last `tailLines` non-empty lines (the bottom of the screen is where prompts and
 * spinners are). A permission prompt wins over everything: a keystroke there would answer it.
 */
export function classifyPane(patterns: PanePatterns, screen: string, tailLines = 12): PaneVerdict {
  const lines = screen.split('\n').map((l) => l.replace(/\s+$/, ''));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const tail = lines.slice(-tailLines).join('\n');
  const last = lines[lines.length - 1] ?? '';
  if (patterns.permission.some((p) => re(p).test(tail))) return 'permission';
  if (patterns.busy.some((p) => re(p).test(tail))) return 'busy';
  // Idle patterns are anchored to the line the cursor sits on, usually the last one.
  if (patterns.idle.some((p) => re(p).test(last) || re(p).test(`${last} `))) return 'idle';
  if (patterns.error.some((p) => re(p).test(tail))) return 'error';
  return 'unknown';
}

/** Agent states (from hooks) in which nothing may be typed. */
export const untypeableStates: ReadonlySet<string> = new Set(['busy', 'waiting-permission', 'compacting', 'starting', 'crashed', 'stopped', 'failed', 'paused']);
