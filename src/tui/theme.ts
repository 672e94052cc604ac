/** Colours as data: views ask for a role, the theme decides (or, in mono, leaves the text plain). */
import type { DisplayColour } from '../domain/agent-display.js';

/** The display rule's colour keys (domain/agent-display.ts) are roles too: one palette for both. */
export type Role = DisplayColour | 'accent' | 'bold' | 'added' | 'removed' | 'hunk';

export interface Theme {
  readonly color: boolean;
  paint(text: string, role: Role): string;
  /** Border colour of the focused panel (undefined in mono). */
  readonly focusBorder: string | undefined;
}

const colors: Record<Role, string | null> = {
  ok: 'green-fg',
  busy: 'cyan-fg',
  attention: 'magenta-fg',
  bad: 'red-fg',
  fatal: 'red-fg',
  waiting: 'yellow-fg',
  info: 'blue-fg',
  accent: 'cyan-fg',
  muted: null,
  bold: null,
  added: 'green-fg',
  removed: 'red-fg',
  hunk: 'cyan-fg',
};

export function makeTheme(color: boolean): Theme {
  return {
    color,
    focusBorder: color ? 'cyan' : undefined,
    paint(text, role) {
      // Bold is an attribute, not a colour: it stays in mono (NO_COLOR is about colour).
      if (role === 'bold' || role === 'fatal') {
        const inner = color && role === 'fatal' ? `{red-fg}${text}{/red-fg}` : text;
        return `{bold}${inner}{/bold}`;
      }
      const c = colors[role];
      return color && c ? `{${c}}${text}{/${c}}` : text;
    },
  };
}

/** auto: colour unless NO_COLOR is set (https://no-color.org) or the terminal has fewer than 8 colours. */
export function chooseColor(setting: 'auto' | 'color' | 'mono', terminalColors: number, env: NodeJS.ProcessEnv = process.env): boolean {
  if (setting === 'color') return true;
  if (setting === 'mono') return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return terminalColors >= 8;
}
