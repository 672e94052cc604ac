import { describe, expect, it } from 'vitest';

import { parseHotArgv, type HotInvocation } from '../../src/cli/hot-argv.js';

describe('parseHotArgv: the command lines the lean entry answers itself', () => {
  const ours: Array<[string[], HotInvocation]> = [
    [['send', 'marie', 'hello'], { command: 'send', config: undefined, agent: 'marie', words: ['hello'], options: {} }],
    [['send', 'marie', 'two', 'words'], { command: 'send', config: undefined, agent: 'marie', words: ['two', 'words'], options: {} }],
    [['send', 'marie'], { command: 'send', config: undefined, agent: 'marie', words: [], options: {} }],
    [['send', 'marie', '-'], { command: 'send', config: undefined, agent: 'marie', words: ['-'], options: {} }],
    [
      ['send', 'marie', 'hi', '-p', 'high', '--key=k1', '-t', '5m', '--from', 'ci', '--json'],
      { command: 'send', config: undefined, agent: 'marie', words: ['hi'], options: { priority: 'high', key: 'k1', ttl: '5m', from: 'ci', json: true } },
    ],
    [['send', '--json', 'marie', 'hi'], { command: 'send', config: undefined, agent: 'marie', words: ['hi'], options: { json: true } }],
    [['send', 'marie', '--json', '--', '--now', '-x'], { command: 'send', config: undefined, agent: 'marie', words: ['--now', '-x'], options: { json: true } }],
    [['-c', 'a/hornets.json', 'send', 'marie', 'hi'], { command: 'send', config: 'a/hornets.json', agent: 'marie', words: ['hi'], options: {} }],
    [['send', 'marie', 'hi', '--config=b.json'], { command: 'send', config: 'b.json', agent: 'marie', words: ['hi'], options: {} }],
    [['queue', 'list'], { command: 'list', config: undefined, agent: undefined, options: {} }],
    [['queue', 'ls', 'marie', '--json', '-a', '-n', '5'], { command: 'list', config: undefined, agent: 'marie', options: { json: true, all: true, limit: '5' } }],
    [['queue', 'list', '--state', 'dead,failed'], { command: 'list', config: undefined, agent: undefined, options: { state: 'dead,failed' } }],
    [['status'], { command: 'status', config: undefined, options: {} }],
    [['--config', 'x.json', 'status', '--json'], { command: 'status', config: 'x.json', options: { json: true } }],
  ];
  it.each(ours)('%j is answered by the lean entry', (args, expected) => {
    expect(parseHotArgv(args)).toEqual(expected);
  });

  // Everything else goes to the full CLI, which owns help, usage errors and the other commands.
  const theirs: string[][] = [
    [],
    ['--version'],
    ['--help'],
    ['send', '--help'],
    ['send', 'marie', 'hi', '-h'],
    ['send'],
    ['send', '--json'],
    ['send', 'marie', 'hi', '--now'],
    // A legacy session:window id: resolved by the full CLI (cli/agent-args.ts).
    ['send', 'proj:0', 'hi'],
    ['queue', 'list', 'proj:marie'],
    ['send', 'marie', 'hi', '-p5'],
    ['send', 'marie', 'hi', '-p', '-3'],
    ['send', 'marie', 'hi', '-p'],
    ['send', 'marie', 'hi', '-k', 'a', '-k', 'b'],
    ['send', 'marie', 'hi', '--json=yes'],
    ['send', 'marie', 'hi', '--bogus'],
    ['send', 'marie', 'hi', '--headless'],
    ['send', 'marie', 'hi', '--no-engine'],
    ['-c', 'a.json', '-c', 'b.json', 'send', 'marie', 'hi'],
    ['--', 'send', 'marie', 'hi'],
    ['queue'],
    ['queue', 'stats'],
    ['queue', '--json', 'list'],
    ['queue', 'list', 'marie', 'extra'],
    ['queue', 'list', '-an', '5'],
    ['status', 'marie'],
    ['status', '--all'],
    ['up'],
    ['daemon', 'status'],
    ['help', 'send'],
  ];
  it.each(theirs.map((a) => [a]))('%j is left to the full CLI', (args) => {
    expect(parseHotArgv(args)).toBeNull();
  });
});
