/**
 * The text protocol of a tmux control-mode client (`tmux -C`), as pure functions: how a command
 * line is written (tmux parses it like a line of a config file) and how the `%begin … %end/%error`
 * reply blocks and notifications it prints are read back. No process here: see channel.ts.
 */

/** Arguments made only of these need no quotes (no `=`: `NAME=value` at the start of a command sets a variable). */
const bare = /^[A-Za-z0-9_%@:.,/+-]+$/;

/**
 * One argument, quoted so tmux's parser gives back exactly `arg`. Double quotes with every character
 * the parser would act on escaped: `\` and `"`, `$` (environment expansion), `~` (home expansion),
 * and control characters, which a control-mode line cannot carry raw (a newline ends the command;
 * a line ending in `\` would join the next). `#`, `;`, `{}` and `#{…}` are plain text inside quotes;
 * formats are expanded by the commands that take them, exactly as when tmux is started with argv.
 * Everything else, UTF-8 included, is written as it is.
 */
export function quoteArg(arg: string): string {
  if (bare.test(arg)) return arg;
  let out = '"';
  for (const ch of arg) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\' || ch === '"' || ch === '$' || ch === '~') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A whole command (name and arguments) as one control-mode line, without the newline. */
export function commandLine(args: readonly string[]): string {
  if (args.length === 0) throw new Error('an empty command line would detach the control client');
  return args.map(quoteArg).join(' ');
}

/** What a control client prints, one event per finished block or notification line. */
export type ControlEvent =
  /** A command's reply: `ok` false for `%error` (then `output` is tmux's error message). */
  | { kind: 'reply'; number: number; fromClient: boolean; ok: boolean; output: string }
  /** `%exit [reason]`: the client is leaving (detached, server gone, session killed). */
  | { kind: 'exit'; reason: string }
  /** Any other `%…` line outside a block (`%output`, `%window-add`, …). */
  | { kind: 'notification'; name: string; line: string };

const beginLine = /^%begin (\d+) (\d+) (\d+)$/;

/**
 * Reads a control client's stdout, split anywhere. Inside a block every line is output until the
 * `%end`/`%error` with the same time, command number and flags as its `%begin` (tmux never prints a
 * notification inside a block, and a pane line that merely starts with `%end` does not match the
 * guard). Each output line is given back with its newline, as a tmux started with argv prints it.
 */
export class ControlParser {
  private rest = '';
  private block: { guard: string; number: number; fromClient: boolean; lines: string[] } | null = null;

  feed(chunk: string): ControlEvent[] {
    const events: ControlEvent[] = [];
    const text = this.rest + chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      const ev = this.line(text.slice(start, nl));
      start = nl + 1;
      if (ev) events.push(ev);
    }
    this.rest = text.slice(start);
    return events;
  }

  /** Whether a block is open (its end not read yet). */
  get inBlock(): boolean {
    return this.block !== null;
  }

  private line(line: string): ControlEvent | null {
    const block = this.block;
    if (block) {
      if (line === `%end ${block.guard}` || line === `%error ${block.guard}`) {
        this.block = null;
        const output = block.lines.map((l) => `${l}\n`).join('');
        return { kind: 'reply', number: block.number, fromClient: block.fromClient, ok: line.startsWith('%end'), output };
      }
      block.lines.push(line);
      return null;
    }
    const begin = beginLine.exec(line);
    if (begin) {
      // flags 1: the command came from this client's input; 0: tmux's own (the attach itself).
      this.block = { guard: `${begin[1]} ${begin[2]} ${begin[3]}`, number: Number(begin[2]), fromClient: begin[3] === '1', lines: [] };
      return null;
    }
    if (line === '%exit' || line.startsWith('%exit ')) return { kind: 'exit', reason: line.slice(5).trim() || 'exit' };
    if (line.startsWith('%')) return { kind: 'notification', name: line.split(' ', 1)[0]!, line };
    // Outside a block tmux prints nothing else; a stray line is ignored rather than trusted.
    return null;
  }
}
