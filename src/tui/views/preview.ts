/**
 * The pane preview: the agent's screen as tmux captured it (`capture-pane -e`), colours kept. Only
 * SGR colour sequences survive; lines are cut to the panel width so nothing wraps.
 */

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;:]*m/y;

/* eslint-disable no-control-regex -- these match the escape and control characters tmux captures */
const ESCAPE = /\x1b(\[[0-9;:?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[^[\]])/g;
const ONLY_SGR = /^\x1b\[[0-9;:]*m$/;
const CONTROL = /[\u0000-\u0009\u000b-\u001a\u001c-\u001f\u007f]/g;
/* eslint-enable no-control-regex */

/** Keeps SGR sequences, drops every other escape sequence and control character. */
export function sanitizeCapture(text: string): string {
  return text.replace(ESCAPE, (m) => (ONLY_SGR.test(m) ? m : '')).replace(CONTROL, '');
}

/** Cuts a line with SGR sequences to `width` columns (sequences cost nothing). Assumes narrow characters are 1 column. */
export function cutAnsi(line: string, width: number): string {
  let out = '';
  let w = 0;
  let i = 0;
  while (i < line.length) {
    if (line[i] === '\x1b') {
      SGR.lastIndex = i;
      const m = SGR.exec(line);
      if (m) {
        out += m[0];
        i += m[0].length;
        continue;
      }
      i++;
      continue;
    }
    const cp = line.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    const cw =
      cp >= 0x1100 &&
      (cp <= 0x115f ||
        (cp >= 0x2e80 && cp <= 0xa4cf) ||
        (cp >= 0xac00 && cp <= 0xd7a3) ||
        (cp >= 0xf900 && cp <= 0xfaff) ||
        (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0x1f300 && cp <= 0x1f64f) ||
        (cp >= 0x1f900 && cp <= 0x1f9ff))
        ? 2
        : 1;
    if (w + cw > width) break;
    out += ch;
    w += cw;
    i += ch.length;
  }
  return out;
}

// eslint-disable-next-line no-control-regex -- SGR colour sequences are what capture-pane -e emits.
const SGR_ALL = /\x1b\[[0-9;:]*m/g;

/** Lines of a capture without the trailing blank ones (the bottom of a pane is mostly empty). */
export function captureLines(capture: string): string[] {
  const lines = sanitizeCapture(capture).split('\n');
  while (lines.length > 0 && lines[lines.length - 1]!.replace(SGR_ALL, '').trim() === '') lines.pop();
  return lines;
}

export interface PreviewViewOptions {
  width: number;
  height: number;
  /** Lines scrolled up from the bottom; 0 follows new output. */
  scrollBack: number;
}

/** Which lines show: the bottom `height` lines, moved up by scrollBack (clamped). */
export function previewWindow(total: number, height: number, scrollBack: number): { start: number; end: number; scrollBack: number } {
  const maxBack = Math.max(0, total - height);
  const back = Math.max(0, Math.min(scrollBack, maxBack));
  const end = total - back;
  return { start: Math.max(0, end - height), end, scrollBack: back };
}

export function renderPreview(lines: readonly string[], o: PreviewViewOptions): string {
  const win = previewWindow(lines.length, o.height, o.scrollBack);
  // Reset at the end of each line so a colour never runs into the border or the next panel.
  return lines
    .slice(win.start, win.end)
    .map((l) => `${cutAnsi(l, o.width)}\x1b[0m`)
    .join('\n');
}
