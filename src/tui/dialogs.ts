/**
 * Dialogs as small state machines: `key()` changes their state and says what happened, `render()`
 * draws them. The console owns the one blessed box they are drawn in and routes keys to the top one.
 */
import { namedPriorities } from '../domain/priority.js';
import type { KeyEvent } from './keymap.js';
import type { Theme } from './theme.js';
import { esc, fit, strWidth, truncate, wrap } from './text.js';

export type DialogResult<T> = { type: 'keep' } | { type: 'close' } | { type: 'submit'; value: T };

export interface Dialog<T = unknown> {
  readonly title: string;
  /** Outer size wanted for a screen of this size. */
  size(screenW: number, screenH: number): { width: number; height: number };
  render(innerW: number, innerH: number, theme: Theme): string;
  key(ev: KeyEvent): DialogResult<T>;
  /** Shown under the dialog's content while a submit runs or after it failed. */
  error?: string | null;
}

const KEEP = { type: 'keep' } as const;
const CLOSE = { type: 'close' } as const;

const isEscape = (ev: KeyEvent) => ev.full === 'escape';
/** A character to insert, if the key is one (printable, not a control key). */
function printable(ev: KeyEvent): string | null {
  const ch = ev.ch;
  if (!ch || ev.full?.startsWith('C-') || ev.full?.startsWith('M-')) return null;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(ch)) return null;
  return ch;
}

// ------------------------------------------------------------------ confirm

export class ConfirmDialog implements Dialog<true> {
  constructor(
    readonly title: string,
    private readonly question: string,
    private readonly detail: string = '',
  ) {}

  size(w: number): { width: number; height: number } {
    const width = Math.min(w - 4, Math.max(44, strWidth(this.question) + 6));
    const lines = this.detail ? wrap(this.detail, width - 4).length : 0;
    return { width, height: 5 + lines + (lines ? 1 : 0) };
  }

  render(innerW: number, _h: number, theme: Theme): string {
    const lines = [` ${esc(this.question)}`];
    if (this.detail) {
      lines.push('');
      for (const l of wrap(this.detail, innerW - 2)) lines.push(` ${esc(l)}`);
    }
    lines.push('');
    lines.push(` ${theme.paint('y', 'accent')} yes    ${theme.paint('n', 'accent')}/${theme.paint('Esc', 'accent')} no`);
    return lines.join('\n');
  }

  key(ev: KeyEvent): DialogResult<true> {
    if (ev.ch === 'y' || ev.ch === 'Y') return { type: 'submit', value: true };
    if (ev.ch === 'n' || ev.ch === 'N' || ev.ch === 'q' || isEscape(ev)) return CLOSE;
    return KEEP;
  }
}

// ------------------------------------------------------------------ text viewer (help, diff, message details)

export class TextDialog implements Dialog<never> {
  private offset = 0;
  private lastInnerH = 10;

  /** `lines` are blessed-tagged already (callers escape user text). */
  constructor(
    readonly title: string,
    private readonly lines: string[],
    private readonly options: { full?: boolean; footer?: string } = {},
  ) {}

  size(w: number, h: number): { width: number; height: number } {
    if (this.options.full) return { width: Math.max(20, w - 2), height: Math.max(6, h - 2) };
    const longest = Math.max(30, ...this.lines.map((l) => strWidth(l.replace(/\{[^}]*\}/g, ''))));
    return { width: Math.min(w - 2, longest + 4), height: Math.min(h - 2, this.lines.length + 4) };
  }

  render(innerW: number, innerH: number): string {
    this.lastInnerH = Math.max(1, innerH - 1);
    const max = Math.max(0, this.lines.length - this.lastInnerH);
    this.offset = Math.min(this.offset, max);
    const shown = this.lines.slice(this.offset, this.offset + this.lastInnerH);
    while (shown.length < this.lastInnerH) shown.push('');
    const pos = this.lines.length > this.lastInnerH ? ` ${this.offset + 1}-${Math.min(this.lines.length, this.offset + this.lastInnerH)}/${this.lines.length}` : '';
    const footer = this.options.footer ?? 'j/k ↑/↓ PgUp/PgDn g/G scroll · q/Esc close';
    return [...shown, esc(fit(`${footer}${pos}`, innerW))].join('\n');
  }

  key(ev: KeyEvent): DialogResult<never> {
    const page = Math.max(1, this.lastInnerH - 1);
    const max = Math.max(0, this.lines.length - this.lastInnerH);
    if (isEscape(ev) || ev.ch === 'q' || ev.ch === '?' || ev.full === 'enter') return CLOSE;
    if (ev.ch === 'j' || ev.full === 'down') this.offset = Math.min(max, this.offset + 1);
    else if (ev.ch === 'k' || ev.full === 'up') this.offset = Math.max(0, this.offset - 1);
    else if (ev.full === 'pagedown' || ev.ch === ' ' || ev.full === 'C-d') this.offset = Math.min(max, this.offset + page);
    else if (ev.full === 'pageup' || ev.full === 'C-u') this.offset = Math.max(0, this.offset - page);
    else if (ev.ch === 'g' || ev.full === 'home') this.offset = 0;
    else if (ev.ch === 'G' || ev.full === 'end') this.offset = max;
    return KEEP;
  }
}

// ------------------------------------------------------------------ send a message

export const priorityChoices: { name: string; value: number }[] = [
  { name: 'low', value: namedPriorities.low },
  { name: 'normal', value: namedPriorities.normal },
  { name: 'high', value: namedPriorities.high },
  { name: 'critical', value: namedPriorities.critical },
  { name: 'emergency', value: namedPriorities.emergency },
];

export interface SendValue {
  text: string;
  priority: number;
}

export class SendDialog implements Dialog<SendValue> {
  readonly title: string;
  private text = '';
  private field: 'text' | 'priority' = 'text';
  private choice: number;
  private readonly choices: { name: string; value: number }[];
  error: string | null = null;

  constructor(agent: string, defaultPriority: number) {
    this.title = ` Send to ${agent} `;
    this.choices = priorityChoices.some((c) => c.value === defaultPriority) ? priorityChoices : [...priorityChoices, { name: 'default', value: defaultPriority }].sort((a, b) => a.value - b.value);
    this.choice = Math.max(
      0,
      this.choices.findIndex((c) => c.value === defaultPriority),
    );
  }

  get value(): SendValue {
    return { text: this.text, priority: this.choices[this.choice]!.value };
  }

  size(w: number, h: number): { width: number; height: number } {
    return { width: Math.min(w - 2, 76), height: Math.min(h - 2, 16) };
  }

  render(innerW: number, innerH: number, theme: Theme): string {
    const editorH = Math.max(1, innerH - 5);
    // The editor shows the last lines typed, with a block cursor at the end.
    const logical = this.text.split('\n');
    const visual = logical.flatMap((l) => (l === '' ? [''] : wrap(l, innerW - 3)));
    const cursor = this.field === 'text' ? '{inverse} {/inverse}' : '';
    const shown = visual.slice(-editorH);
    const lines = shown.map((l, i) => ` ${theme.paint('│', 'muted')}${esc(l)}${i === shown.length - 1 ? cursor : ''}`);
    if (shown.length === 0) lines.push(` ${theme.paint('│', 'muted')}${cursor}`);
    while (lines.length < editorH) lines.push(` ${theme.paint('│', 'muted')}`);
    const opts = this.choices.map((c, i) => {
      const label = `${c.name} ${c.value}`;
      return i === this.choice ? (this.field === 'priority' ? `{inverse}[${label}]{/inverse}` : `[${esc(label)}]`) : ` ${esc(label)} `;
    });
    lines.push('');
    lines.push(` ${this.field === 'priority' ? theme.paint('priority', 'accent') : 'priority'}: ${opts.join('')}`);
    lines.push(this.error ? theme.paint(esc(fit(` ${this.error}`, innerW)), 'bad') : '');
    lines.push(esc(truncate(` Ctrl-S send · Enter new line · Tab ${this.field === 'text' ? 'priority' : 'text'} · ←/→ priority · Esc cancel`, innerW)));
    return lines.join('\n');
  }

  key(ev: KeyEvent): DialogResult<SendValue> {
    if (isEscape(ev)) return CLOSE;
    if (ev.full === 'C-s') {
      if (this.text.trim() === '') {
        this.error = 'the message is empty';
        return KEEP;
      }
      return { type: 'submit', value: this.value };
    }
    if (ev.full === 'tab' || ev.full === 'S-tab') {
      this.field = this.field === 'text' ? 'priority' : 'text';
      return KEEP;
    }
    if (ev.full === 'left' || (this.field === 'priority' && ev.ch === 'h')) {
      this.choice = Math.max(0, this.choice - 1);
      return KEEP;
    }
    if (ev.full === 'right' || (this.field === 'priority' && ev.ch === 'l')) {
      this.choice = Math.min(this.choices.length - 1, this.choice + 1);
      return KEEP;
    }
    if (this.field === 'priority') {
      if (ev.full === 'enter') this.field = 'text';
      return KEEP;
    }
    this.error = null;
    if (ev.full === 'enter' || ev.full === 'linefeed') this.text += '\n';
    else if (ev.full === 'backspace') this.text = [...this.text].slice(0, -1).join('');
    else if (ev.full === 'C-u') this.text = this.text.includes('\n') ? this.text.slice(0, this.text.lastIndexOf('\n') + 1) : '';
    else {
      const ch = printable(ev);
      if (ch) this.text += ch;
    }
    return KEEP;
  }
}

// ------------------------------------------------------------------ new agent

export interface NewAgentValue {
  name: string;
  profile: string;
}

export class NewAgentDialog implements Dialog<NewAgentValue> {
  readonly title = ' New agent ';
  private name = '';
  private field: 'name' | 'profile' = 'name';
  private choice = 0;
  error: string | null = null;

  constructor(
    private readonly profiles: { name: string; description: string }[],
    preferred = 'demo',
    private readonly validate: (name: string) => string | null = () => null,
  ) {
    this.choice = Math.max(
      0,
      profiles.findIndex((p) => p.name === preferred),
    );
  }

  size(w: number, h: number): { width: number; height: number } {
    return { width: Math.min(w - 2, 76), height: Math.min(h - 2, this.profiles.length + 9) };
  }

  render(innerW: number, innerH: number, theme: Theme): string {
    const nameLabel = this.field === 'name' ? theme.paint('name', 'accent') : 'name';
    const cursor = this.field === 'name' ? '{inverse} {/inverse}' : '';
    const lines = [` ${nameLabel}: ${esc(this.name)}${cursor}`, '', ` ${this.field === 'profile' ? theme.paint('profile', 'accent') : 'profile'}:`];
    const listH = Math.max(1, innerH - 6);
    const start = Math.max(0, Math.min(this.choice - listH + 1, this.profiles.length - listH));
    for (let i = Math.max(0, start); i < Math.min(this.profiles.length, Math.max(0, start) + listH); i++) {
      const p = this.profiles[i]!;
      const text = fit(`${i === this.choice ? '▸' : ' '} ${p.name.padEnd(12)} ${p.description}`, innerW - 2);
      lines.push(i === this.choice && this.field === 'profile' ? ` {inverse}${esc(text)}{/inverse}` : ` ${esc(text)}`);
    }
    lines.push('');
    lines.push(this.error ? theme.paint(esc(fit(` ${this.error}`, innerW)), 'bad') : '');
    lines.push(esc(truncate(' Enter next/create · Tab switch field · ↑/↓ profile · Esc cancel', innerW)));
    return lines.join('\n');
  }

  key(ev: KeyEvent): DialogResult<NewAgentValue> {
    if (isEscape(ev)) return CLOSE;
    const submit = (): DialogResult<NewAgentValue> => {
      const problem = this.validate(this.name);
      if (problem) {
        this.error = problem;
        this.field = 'name';
        return KEEP;
      }
      return { type: 'submit', value: { name: this.name, profile: this.profiles[this.choice]!.name } };
    };
    if (ev.full === 'C-s') return submit();
    if (ev.full === 'tab' || ev.full === 'S-tab') {
      this.field = this.field === 'name' ? 'profile' : 'name';
      return KEEP;
    }
    if (ev.full === 'enter') {
      if (this.field === 'name') {
        const problem = this.validate(this.name);
        if (problem) this.error = problem;
        else {
          this.error = null;
          this.field = 'profile';
        }
        return KEEP;
      }
      return submit();
    }
    if (ev.full === 'down' || (this.field === 'profile' && ev.ch === 'j')) {
      this.choice = Math.min(this.profiles.length - 1, this.choice + 1);
      return KEEP;
    }
    if (ev.full === 'up' || (this.field === 'profile' && ev.ch === 'k')) {
      this.choice = Math.max(0, this.choice - 1);
      return KEEP;
    }
    if (this.field === 'name') {
      this.error = null;
      if (ev.full === 'backspace') this.name = this.name.slice(0, -1);
      else {
        const ch = printable(ev);
        if (ch && this.name.length < 32) this.name += ch;
      }
    }
    return KEEP;
  }
}

// ------------------------------------------------------------------ filter (drawn in the message line)

export class FilterInput {
  constructor(public text: string) {}

  /** 'apply' keeps the filter, 'clear' removes it, 'edit' = still typing. */
  key(ev: KeyEvent): 'apply' | 'clear' | 'edit' {
    if (isEscape(ev)) return 'clear';
    if (ev.full === 'enter') return 'apply';
    if (ev.full === 'backspace') this.text = this.text.slice(0, -1);
    else if (ev.full === 'C-u') this.text = '';
    else {
      const ch = printable(ev);
      if (ch) this.text += ch;
    }
    return 'edit';
  }

  render(width: number, theme: Theme): string {
    return `${theme.paint(' /', 'accent')} ${esc(truncate(this.text, width - 30))}{inverse} {/inverse}  ${theme.paint('Enter keep · Esc clear', 'muted')}`;
  }
}
