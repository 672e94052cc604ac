/**
 * The control-mode protocol as tables: how arguments are quoted for tmux's line parser, how argv
 * is split into channel commands, and how reply blocks and notifications are read back, split at
 * any byte. (Real tmux reads the quoted lines in test/integration/tmux-channel.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { commandLine, ControlParser, quoteArg, type ControlEvent } from '../../src/tmux/control-protocol.js';
import { channelCommands } from '../../src/tmux/channel.js';
import type { ServerRef } from '../../src/tmux/argv.js';

describe('quoteArg', () => {
  const table: [string, string][] = [
    ['send-keys', 'send-keys'],
    ['%12', '%12'],
    ['-t', '-t'],
    ['=proj', '"=proj"'],
    ['', '""'],
    ['two words', '"two words"'],
    ['a;', '"a;"'],
    [';', '";"'],
    ['#{pane_id}', '"#{pane_id}"'],
    ['# comment', '"# comment"'],
    ['{braces}', '"{braces}"'],
    ['$HOME', '"\\$HOME"'],
    ['~root', '"\\~root"'],
    ['back\\slash', '"back\\\\slash"'],
    ['ends with \\', '"ends with \\\\"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["it's", '"it\'s"'],
    ['line\nnext', '"line\\nnext"'],
    ['cr\r', '"cr\\r"'],
    ['tab\there', '"tab\\there"'],
    ['bell\x07', '"bell\\007"'],
    ['esc\x1b[1m', '"esc\\033[1m"'],
    ['del\x7f', '"del\\177"'],
    ['\\u00e9', '"\\\\u00e9"'],
    ['héllo ✓ 🐝', '"héllo ✓ 🐝"'],
    ['%if 1', '"%if 1"'],
    ['NAME=value', '"NAME=value"'],
  ];
  it.each(table)('%j -> %s', (arg, quoted) => {
    expect(quoteArg(arg)).toBe(quoted);
  });

  it('never yields a raw control character or a line that ends in a backslash', () => {
    for (let c = 0; c < 0x80; c++) {
      const q = quoteArg(`x${String.fromCharCode(c)}\\`);
      // eslint-disable-next-line no-control-regex
      expect(q).not.toMatch(/[\x00-\x1f\x7f]/);
      expect(q.endsWith('\\')).toBe(false);
    }
  });

  it('commandLine joins quoted arguments and refuses an empty command (an empty line detaches)', () => {
    expect(commandLine(['send-keys', '-t', '%3', '-l', 'a b;'])).toBe('send-keys -t %3 -l "a b;"');
    expect(() => commandLine([])).toThrow(/detach/);
  });
});

describe('channelCommands', () => {
  const server: ServerRef = { socket: 'hornets-x', configFile: '/p/tmux.conf' };
  const base = ['-L', 'hornets-x', '-f', '/p/tmux.conf'];
  const table: [string, string[], { input?: string }, string[][] | null][] = [
    ['one command', [...base, 'capture-pane', '-p', '-t', '%1'], {}, [['capture-pane', '-p', '-t', '%1']]],
    [
      'a sequence, split at ;',
      [...base, 'display-message', '-p', '-t', '%1', '#{pane_dead}', ';', 'capture-pane', '-p', '-J', '-t', '%1'],
      {},
      [
        ['display-message', '-p', '-t', '%1', '#{pane_dead}'],
        ['capture-pane', '-p', '-J', '-t', '%1'],
      ],
    ],
    ['send-keys -l', [...base, 'send-keys', '-t', '%1', '-l', 'hi there'], {}, [['send-keys', '-t', '%1', '-l', 'hi there']]],
    ['stdin input (load-buffer -)', [...base, 'load-buffer', '-b', 'b', '-'], { input: 'x' }, null],
    ['another server', ['-L', 'other', '-f', '/p/tmux.conf', 'list-panes', '-a'], {}, null],
    ['no server part', ['-V'], {}, null],
    ['kill-server (would end the channel)', [...base, 'kill-server'], {}, null],
    ['new-session (never from the channel)', [...base, 'new-session', '-d', '-s', 'x'], {}, null],
    ['new-window in a batch', [...base, 'new-window', '-d', ';', 'list-panes', '-a'], {}, null],
    ['an argument ending in ; (tmux argv splits there)', [...base, 'send-keys', '-t', '%1', '-l', 'a;'], {}, null],
    ['an empty command', [...base, 'list-panes', ';'], {}, null],
  ];
  it.each(table)('%s', (_what, argv, options, expected) => {
    expect(channelCommands(server, argv, options)).toEqual(expected);
  });
});

function parseAll(text: string, chunk: number): ControlEvent[] {
  const p = new ControlParser();
  const events: ControlEvent[] = [];
  for (let i = 0; i < text.length; i += chunk) events.push(...p.feed(text.slice(i, i + chunk)));
  return events;
}

describe('ControlParser', () => {
  const stream = [
    '%begin 1796203880 267 0',
    '%end 1796203880 267 0',
    '%session-changed $0 t',
    '%begin 1796203880 272 1',
    '0',
    '%end 1796203880 272 1',
    '%window-renamed @0 cat',
    '%begin 1796203880 273 1',
    '%end 1796203880 999 1',
    '%end 1796203880 273 0',
    '%error',
    '%begin 1 2 3',
    '',
    'é ✓',
    '%end 1796203880 273 1',
    '%begin 1796203881 274 1',
    "can't find pane: %999",
    '%error 1796203881 274 1',
    '%output %1 hello\\015\\012',
    '%begin 1796203881 275 1',
    '%end 1796203881 275 1',
    '%exit server exited',
    '',
  ].join('\n');
  const expected: ControlEvent[] = [
    { kind: 'reply', number: 267, fromClient: false, ok: true, output: '' },
    { kind: 'notification', name: '%session-changed', line: '%session-changed $0 t' },
    { kind: 'reply', number: 272, fromClient: true, ok: true, output: '0\n' },
    { kind: 'notification', name: '%window-renamed', line: '%window-renamed @0 cat' },
    // Lines that only look like guards (another number, other flags, a nested %begin) are output.
    { kind: 'reply', number: 273, fromClient: true, ok: true, output: '%end 1796203880 999 1\n%end 1796203880 273 0\n%error\n%begin 1 2 3\n\né ✓\n' },
    { kind: 'reply', number: 274, fromClient: true, ok: false, output: "can't find pane: %999\n" },
    { kind: 'notification', name: '%output', line: '%output %1 hello\\015\\012' },
    { kind: 'reply', number: 275, fromClient: true, ok: true, output: '' },
    { kind: 'exit', reason: 'server exited' },
  ];
  it.each([1, 2, 3, 7, 64, 100_000])('reads blocks and notifications fed %i characters at a time', (chunk) => {
    expect(parseAll(stream, chunk)).toEqual(expected);
  });

  it('a bare %exit has a reason; a partial line waits for its end', () => {
    const p = new ControlParser();
    expect(p.feed('%begin 5 6 1\npartial')).toEqual([]);
    expect(p.inBlock).toBe(true);
    expect(p.feed(' line\n%end 5 6 1\n%exit\n')).toEqual([
      { kind: 'reply', number: 6, fromClient: true, ok: true, output: 'partial line\n' },
      { kind: 'exit', reason: 'exit' },
    ]);
    expect(p.inBlock).toBe(false);
  });
});
