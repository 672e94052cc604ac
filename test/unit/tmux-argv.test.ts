/**
 * The pure half of the tmux adapter: argv builders, list-panes/version parsers, pane-id checks,
 * the sanitiser that stands between message text and a pane, and screen classification with the
 * patterns the shipped profiles carry. No tmux runs here (a recording runner stands in for it).
 */
import { describe, expect, it } from 'vitest';
import {
  argv,
  base,
  batchCommands,
  commands,
  isPaneId,
  MAX_BATCH_BYTES,
  MIN_TMUX,
  paneFields,
  paneFormat,
  parsePanes,
  parseVersion,
  versionAtLeast,
  type ServerRef,
  type SpawnSpec,
} from '../../src/tmux/argv.js';
import { TmuxClient } from '../../src/tmux/client.js';
import { TmuxError } from '../../src/tmux/errors.js';
import type { RunOptions, TmuxRunner } from '../../src/tmux/runner.js';
import { tmuxEnv } from '../../src/tmux/runner.js';
import { sanitizeForPane, singleLine } from '../../src/tmux/sanitize.js';
import { pushText } from '../../src/services/push.js';
import { classifyPane, type PanePatterns } from '../../src/domain/pane-state.js';
import { loadProfiles } from '../../src/config/load.js';
import { builtinProfilesDir } from '../../src/config/paths.js';

const server: ServerRef = { socket: 'hornets-test-unit', configFile: '/tmp/hornets-test-unit.conf' };
const spec: SpawnSpec = { argv: ['node', 'agent.js', '--flag'], cwd: '/work/tree', env: { HORNETS_AGENT_ID: 'marie', HORNETS_GENERATION: '2' } };

/** Every builder, called with ordinary arguments: what the rest of the code can make tmux run. */
function allBuilderOutputs(): { name: string; args: string[] }[] {
  return [
    { name: 'hasSession', args: argv.hasSession(server, 'proj') },
    { name: 'newSession', args: argv.newSession(server, 'proj', 'hornets', spec, { width: 200, height: 50 }) },
    { name: 'newWindow', args: argv.newWindow(server, 'proj', 'marie', spec) },
    { name: 'respawnPane', args: argv.respawnPane(server, '%3', spec) },
    { name: 'listPanes', args: argv.listPanes(server) },
    { name: 'capturePane', args: argv.capturePane(server, '%3') },
    { name: 'capturePane -e -S', args: argv.capturePane(server, '%3', { escapes: true, start: -100 }) },
    { name: 'sendKey', args: argv.sendKey(server, '%3', 'Enter') },
    { name: 'loadBuffer', args: argv.loadBuffer(server, 'hornets-abc') },
    { name: 'pasteBuffer', args: argv.pasteBuffer(server, 'hornets-abc', '%3', { bracketed: true }) },
    { name: 'pasteBuffer plain', args: argv.pasteBuffer(server, 'hornets-abc', '%3', { bracketed: false }) },
    { name: 'deleteBuffer', args: argv.deleteBuffer(server, 'hornets-abc') },
    { name: 'killPane', args: argv.killPane(server, '%3') },
    { name: 'killWindow', args: argv.killWindow(server, '%3') },
    { name: 'killServer', args: argv.killServer(server) },
    { name: 'renameWindow', args: argv.renameWindow(server, '%3', 'marie') },
    { name: 'setPaneOption', args: argv.setPaneOption(server, '%3', 'remain-on-exit', 'on') },
    { name: 'showEnvironment', args: argv.showEnvironment(server, 'HORNETS_CONFIG') },
    { name: 'setEnvironment', args: argv.setEnvironment(server, 'HORNETS_CONFIG', '/p/hornets.json') },
    { name: 'setHook', args: argv.setHook(server, 'pane-died', 'run-shell -b true') },
    { name: 'displayPane', args: argv.displayPane(server, '%3', '#{pane_dead}') },
    { name: 'serverPid', args: argv.serverPid(server) },
    { name: 'attach', args: argv.attach(server, 'proj', '%3') },
    { name: 'switchClient', args: argv.switchClient(server, '%3') },
  ];
}

describe('argv builders', () => {
  it.each(allBuilderOutputs())('$name starts with -L <socket> -f <config> (never the default server)', ({ args }) => {
    expect(args.slice(0, 4)).toEqual(['-L', server.socket, '-f', server.configFile]);
    expect(base(server)).toEqual(['-L', server.socket, '-f', server.configFile]);
  });

  it('version needs no server', () => {
    expect(argv.version()).toEqual(['-V']);
  });

  it('has-session matches the session name exactly (=name), not as a prefix', () => {
    expect(argv.hasSession(server, 'proj')).toEqual([...base(server), 'has-session', '-t', '=proj']);
  });

  it('new-session: detached, sized, cwd, env as -e pairs, prints the pane id, argv after --', () => {
    expect(argv.newSession(server, 'proj', 'hornets', spec, { width: 120, height: 40 })).toEqual([
      ...base(server),
      'new-session',
      '-d',
      '-s',
      'proj',
      '-n',
      'hornets',
      '-x',
      '120',
      '-y',
      '40',
      '-c',
      '/work/tree',
      '-e',
      'HORNETS_AGENT_ID=marie',
      '-e',
      'HORNETS_GENERATION=2',
      '-P',
      '-F',
      '#{pane_id}',
      '--',
      'node',
      'agent.js',
      '--flag',
    ]);
  });

  it('new-window targets the session exactly (=proj:) and keeps the agent argv as separate words', () => {
    const a = argv.newWindow(server, 'proj', 'marie', { ...spec, argv: ['sh', '-c', 'echo "a b"; exit 3'] });
    expect(a).toContain('=proj:');
    expect(a.slice(a.indexOf('--') + 1)).toEqual(['sh', '-c', 'echo "a b"; exit 3']);
    expect(a[a.indexOf('-n') + 1]).toBe('marie');
  });

  it('respawn-pane kills what is left (-k) and targets the pane id', () => {
    const a = argv.respawnPane(server, '%7', spec);
    expect(a.slice(4, 8)).toEqual(['respawn-pane', '-k', '-t', '%7']);
  });

  it('list-panes reads every pane of the server with the tab-separated field format', () => {
    expect(argv.listPanes(server)).toEqual([...base(server), 'list-panes', '-a', '-F', paneFormat]);
    expect(paneFormat.split('\t')).toEqual(paneFields.map((f) => `#{${f}}`));
  });

  it('capture-pane joins wrapped lines (-J); -e and -S only when asked', () => {
    expect(argv.capturePane(server, '%1')).toEqual([...base(server), 'capture-pane', '-p', '-J', '-t', '%1']);
    expect(argv.capturePane(server, '%1', { escapes: true, start: -50 })).toEqual([...base(server), 'capture-pane', '-p', '-J', '-e', '-S', '-50', '-t', '%1']);
  });

  it('paste-buffer: -p (bracketed) only for multi-line text, always -d (buffer deleted after)', () => {
    expect(argv.pasteBuffer(server, 'b1', '%2', { bracketed: true })).toEqual([...base(server), 'paste-buffer', '-d', '-p', '-b', 'b1', '-t', '%2']);
    expect(argv.pasteBuffer(server, 'b1', '%2', { bracketed: false })).toEqual([...base(server), 'paste-buffer', '-d', '-b', 'b1', '-t', '%2']);
    // The text itself travels on stdin: load-buffer reads "-".
    expect(argv.loadBuffer(server, 'b1')).toEqual([...base(server), 'load-buffer', '-b', 'b1', '-']);
  });

  it('attach targets the session exactly, then the agent pane by id; switch-client targets the pane', () => {
    expect(argv.attach(server, 'proj', '%5')).toEqual([...base(server), 'attach-session', '-t', '=proj', ';', 'select-window', '-t', '%5', ';', 'select-pane', '-t', '%5']);
    expect(argv.switchClient(server, '%5')).toEqual([...base(server), 'switch-client', '-t', '%5']);
  });

  it('the pane-died hook command is passed as one argument', () => {
    const cmd = `run-shell -b '"$HORNETS_NODE" "$HORNETS_BIN" internal pane-died "#{pane_id}" "#{pane_dead_status}"'`;
    expect(argv.setHook(server, 'pane-died', cmd)).toEqual([...base(server), 'set-hook', '-g', 'pane-died', cmd]);
  });

  it('a batch joins commands with a bare ";" argument, after one server part', () => {
    expect(argv.batch(server, [commands.setEnvironment('A', '1'), commands.unsetHook('pane-died')])).toEqual([...base(server), 'set-environment', '-g', 'A', '1', ';', 'set-hook', '-gu', 'pane-died']);
    expect(argv.batch(server, [commands.newWindow('proj', 'marie', spec)])).toEqual(argv.newWindow(server, 'proj', 'marie', spec));
  });
});

describe('batchCommands: many tmux commands in few processes', () => {
  const cmd = (n: number, bytes = 10) => ['set-environment', '-g', `V${n}`, 'x'.repeat(bytes)];
  it.each([
    { name: 'nothing', cmds: [] as string[][], max: 100, sizes: [] as number[] },
    { name: 'all fit in one', cmds: [cmd(1), cmd(2), cmd(3)], max: 1000, sizes: [3] },
    { name: 'split at the byte limit', cmds: [cmd(1, 40), cmd(2, 40), cmd(3, 40)], max: 150, sizes: [2, 1] },
    { name: 'one too big goes alone', cmds: [cmd(1), cmd(2, 500), cmd(3)], max: 100, sizes: [1, 1, 1] },
    { name: "an argument ending in ';' keeps its meaning alone", cmds: [cmd(1), ['display-message', 'a;'], cmd(3)], max: 1000, sizes: [1, 1, 1] },
  ])('$name', ({ cmds, max, sizes }) => {
    const batches = batchCommands(cmds, max);
    expect(batches.map((b) => b.length)).toEqual(sizes);
    expect(batches.flat()).toEqual(cmds);
  });

  it('50 agent windows fit in a handful of tmux processes under the 16 KiB message limit', () => {
    const cmds = Array.from({ length: 50 }, (_, i) =>
      commands.newWindow('proj', `a${i}`, { ...spec, env: { ...spec.env, HORNETS_HOME: '/home/user/project/.hornets', HORNETS_CONFIG: '/home/user/project/hornets.json' } }),
    );
    const batches = batchCommands(cmds);
    expect(batches.length).toBeLessThanOrEqual(6);
    for (const b of batches) expect(argv.batch(server, b).reduce((n, a) => n + Buffer.byteLength(a) + 1, 0)).toBeLessThan(MAX_BATCH_BYTES + 1024);
  });
});

describe('message text never reaches argv', () => {
  const hostile = ['hello; kill-server', 'C-c', '#{pane_id} #(touch /tmp/x)', '$(touch /tmp/pwned)', 'line one\nline two \x1b[201~ after', '\x03\x04 Enter'];

  /** A runner that records what would have run, and answers like tmux would. */
  function recorder(): { runner: TmuxRunner; calls: { argv: readonly string[]; input: string | undefined }[] } {
    const calls: { argv: readonly string[]; input: string | undefined }[] = [];
    const runner: TmuxRunner = async (a, options: RunOptions = {}) => {
      calls.push({ argv: a, input: options.input === undefined ? undefined : String(options.input) });
      return { stdout: '', stderr: '' };
    };
    return { runner, calls };
  }

  it.each(hostile)('paste(%j): the text is only on load-buffer stdin', async (text) => {
    const { runner, calls } = recorder();
    const client = new TmuxClient({ server, runner });
    await client.paste('%4', text, { bracketed: text.includes('\n') });
    expect(calls).toHaveLength(2);
    const [load, paste] = calls;
    expect(load!.argv.slice(4, 6)).toEqual(['load-buffer', '-b']);
    expect(load!.argv.at(-1)).toBe('-');
    expect(load!.input).toBe(text);
    expect(paste!.argv.slice(4)).toEqual(['paste-buffer', '-d', ...(text.includes('\n') ? ['-p'] : []), '-b', load!.argv[6], '-t', '%4']);
    // The private buffer name is random hex, never derived from the text.
    expect(load!.argv[6]).toMatch(/^hornets-[0-9a-f]{12}$/);
    for (const c of calls) {
      for (const word of c.argv) {
        expect(word.includes(text)).toBe(false);
        for (const piece of text.split(/\s+/).filter((p) => p.length > 2)) expect(word).not.toContain(piece);
      }
    }
  });

  /** Runs pushText against a runner that plays an agent echoing what is pasted; returns every call. */
  async function recordPush(text: string): Promise<{ argv: readonly string[]; input: string | undefined }[]> {
    const clean = sanitizeForPane(text).text;
    const calls: { argv: readonly string[]; input: string | undefined }[] = [];
    let screen = 'demo> ';
    const runner: TmuxRunner = async (a, options: RunOptions = {}) => {
      calls.push({ argv: a, input: options.input === undefined ? undefined : String(options.input) });
      const cmd = a[4];
      if (cmd === 'list-panes') return { stdout: '%1\tproj\t@1\tbee\t42\t0\t\tnode\t200\t50\t0\t\n', stderr: '' };
      if (cmd === 'paste-buffer') screen = `demo> ${clean}`;
      if (cmd === 'send-keys') screen = `${screen}\ndone\ndemo> `;
      if (cmd === 'capture-pane') return { stdout: `${screen}\n`, stderr: '' };
      return { stdout: '', stderr: '' };
    };
    await pushText(new TmuxClient({ server, runner }), '%1', text, { patterns: { idle: ['^demo> $'], busy: [], permission: [], error: [] } });
    return calls;
  }

  it.each(hostile)('the whole push path (pushText) keeps %j out of argv: stdin of load-buffer only', async (text) => {
    const clean = sanitizeForPane(text).text;
    const calls = await recordPush(text);
    const inputs = calls.filter((c) => c.input !== undefined);
    expect(inputs).toHaveLength(1);
    expect(inputs[0]!.argv[4]).toBe('load-buffer');
    expect(inputs[0]!.input).toBe(clean);
    // Same argv as for a harmless text of as many lines (multi-line adds paste -p), apart from the
    // random buffer name: the text changes nothing else.
    const shape = (cs: typeof calls) => cs.map((c) => c.argv.map((w) => w.replace(/^hornets-[0-9a-f]{12}$/, '<buffer>')));
    expect(shape(calls)).toEqual(shape(await recordPush(clean.includes('\n') ? 'harmless\ntext' : 'harmless')));
    for (const c of calls) for (const word of c.argv) expect(word).not.toContain(clean);
    // Keys are pressed by name, never typed from the text.
    expect(calls.filter((c) => c.argv[4] === 'send-keys').map((c) => c.argv.at(-1))).toEqual(['Enter']);
  });

  it('a failed paste deletes the private buffer so the text does not linger on the server', async () => {
    const calls: (readonly string[])[] = [];
    const runner: TmuxRunner = async (a) => {
      calls.push(a);
      if (a.includes('paste-buffer')) throw new TmuxError(a, 1, "can't find pane: %4");
      return { stdout: '', stderr: '' };
    };
    const client = new TmuxClient({ server, runner });
    await expect(client.paste('%4', 'secret', { bracketed: false })).rejects.toBeInstanceOf(TmuxError);
    expect(calls.map((c) => c[4])).toEqual(['load-buffer', 'paste-buffer', 'delete-buffer']);
  });

  it.each(['marie', '1', '%1; kill-server', 'proj:1.0', '%', '', '%1 '])('pane operations refuse the non-pane-id target %j before running tmux', async (target) => {
    const { runner, calls } = recorder();
    const client = new TmuxClient({ server, runner });
    await expect(client.paste(target, 'x', { bracketed: false })).rejects.toThrow(/not a pane id/);
    await expect(client.sendKey(target, 'Enter')).rejects.toThrow(/not a pane id/);
    await expect(client.capture(target)).rejects.toThrow(/not a pane id/);
    await expect(client.killWindow(target)).rejects.toThrow(/not a pane id/);
    expect(calls).toEqual([]);
  });

  it("tmux runs without TMUX/TMUX_PANE, so it can never fall back to the user's current server", () => {
    const env = tmuxEnv({ TMUX: '/tmp/tmux-0/default,1,0', TMUX_PANE: '%0', PATH: '/bin', HOME: '/root' });
    expect(env).toEqual({ PATH: '/bin', HOME: '/root' });
  });
});

describe('parsePanes', () => {
  const line = (fields: string[]) => fields.join('\t');

  it.each([
    {
      name: 'live pane',
      input: line(['%1', 'proj', '@1', 'marie', '4242', '0', '', 'node', '200', '50', '0']),
      want: { paneId: '%1', session: 'proj', windowId: '@1', windowName: 'marie', pid: 4242, dead: false, deadStatus: null, currentCommand: 'node', width: 200, height: 50, inMode: false },
    },
    {
      name: 'dead pane with exit status 3',
      input: line(['%12', 'proj', '@9', 'anga', '77', '1', '3', 'node', '80', '24', '0']),
      want: { paneId: '%12', dead: true, deadStatus: 3, pid: 77, windowName: 'anga' },
    },
    {
      name: 'dead pane killed by a signal (no status)',
      input: line(['%2', 'proj', '@2', 'fabien', '78', '1', '', 'node', '80', '24', '0']),
      want: { dead: true, deadStatus: null },
    },
    {
      name: 'dead pane killed by signal 9 (pane_dead_signal)',
      input: line(['%4', 'proj', '@4', 'zoe', '79', '1', '', 'node', '80', '24', '0', '9']),
      want: { dead: true, deadStatus: null, deadSignal: 9 },
    },
    {
      name: 'a live pane has no signal',
      input: line(['%4', 'proj', '@4', 'zoe', '79', '0', '', 'node', '80', '24', '0', '']),
      want: { dead: false, deadStatus: null, deadSignal: null },
    },
    {
      name: 'dead status 0',
      input: line(['%2', 'proj', '@2', 'fabien', '78', '1', '0', 'bash', '80', '24', '1']),
      want: { dead: true, deadStatus: 0, inMode: true, currentCommand: 'bash' },
    },
    {
      name: 'a status field on a live pane is ignored',
      input: line(['%2', 'proj', '@2', 'fabien', '78', '0', '1', 'bash', '80', '24', '0']),
      want: { dead: false, deadStatus: null },
    },
  ])('$name', ({ input, want }) => {
    const [p] = parsePanes(`${input}\n`);
    expect(p).toMatchObject(want);
  });

  it('several panes, blank lines skipped', () => {
    const out = ['%0\tproj\t@0\thornets\t10\t0\t\ttail\t200\t50\t0', '', '%1\tproj\t@1\tmarie\t11\t0\t\tnode\t200\t50\t0', ''].join('\n');
    expect(parsePanes(out).map((p) => [p.paneId, p.windowName])).toEqual([
      ['%0', 'hornets'],
      ['%1', 'marie'],
    ]);
  });

  it('empty output (no server, no panes) is no panes', () => {
    expect(parsePanes('')).toEqual([]);
    expect(parsePanes('\n')).toEqual([]);
  });

  it('a short line does not throw; missing fields get neutral values', () => {
    const [p] = parsePanes('%5\tproj');
    expect(p).toMatchObject({ paneId: '%5', session: 'proj', windowName: '', dead: false, deadStatus: null, inMode: false });
  });
});

describe('TmuxClient.listPanes: exits tmux did not reap', () => {
  const dead = (status: string, signal: string) => `%1\tproj\t@1\tmarie\t4242\t1\t${status}\tnode\t200\t50\t0\t${signal}\n`;

  /** A runner answering list-panes from a script of outputs, and #{pid} with this process (SIGCHLD is ignored by default). */
  function scripted(listOutputs: string[]): { runner: TmuxRunner; calls: string[] } {
    const calls: string[] = [];
    const runner: TmuxRunner = async (a) => {
      const cmd = a[4]!;
      calls.push(cmd);
      if (cmd === 'list-panes') return { stdout: listOutputs.length > 1 ? listOutputs.shift()! : listOutputs[0]!, stderr: '' };
      if (cmd === 'display-message') return { stdout: `${process.pid}\n`, stderr: '' };
      return { stdout: '', stderr: '' };
    };
    return { runner, calls };
  }

  it('a dead pane without status or signal makes the server reap (SIGCHLD), then the status is read again', async () => {
    const { runner, calls } = scripted([dead('', ''), dead('', ''), dead('3', '')]);
    const client = new TmuxClient({ server, runner });
    const [p] = await client.listPanes();
    expect(p).toMatchObject({ dead: true, deadStatus: 3 });
    expect(calls).toEqual(['list-panes', 'display-message', 'list-panes', 'list-panes']);
  });

  it('a status that never comes costs one wait per pane, not one per call', async () => {
    const { runner, calls } = scripted([dead('', '')]);
    const client = new TmuxClient({ server, runner });
    const t0 = Date.now();
    expect((await client.listPanes())[0]).toMatchObject({ dead: true, deadStatus: null, deadSignal: null });
    expect(Date.now() - t0).toBeLessThan(2000);
    const kicks = calls.filter((c) => c === 'display-message').length;
    expect(kicks).toBe(1);
    await client.listPanes();
    expect(calls.filter((c) => c === 'display-message').length).toBe(1);
    expect(calls.at(-1)).toBe('list-panes');
  });

  it('exit statuses and signals already known: no extra tmux call', async () => {
    for (const out of [dead('0', ''), dead('', '9'), '%1\tproj\t@1\tmarie\t4242\t0\t\tnode\t200\t50\t0\t\n']) {
      const { runner, calls } = scripted([out]);
      await new TmuxClient({ server, runner }).listPanes();
      expect(calls).toEqual(['list-panes']);
    }
  });
});

describe('parseVersion / versionAtLeast', () => {
  it.each([
    ['tmux 3.3a\n', { major: 3, minor: 3, raw: 'tmux 3.3a' }],
    ['tmux 3.2', { major: 3, minor: 2, raw: 'tmux 3.2' }],
    ['tmux next-3.4', { major: 3, minor: 4, raw: 'tmux next-3.4' }],
    ['tmux 2.9a', { major: 2, minor: 9, raw: 'tmux 2.9a' }],
    ['tmux 10.0', { major: 10, minor: 0, raw: 'tmux 10.0' }],
    ['tmux master', null],
    ['', null],
    ['command not found', null],
  ])('parseVersion(%j)', (input, want) => {
    expect(parseVersion(input)).toEqual(want);
  });

  it.each([
    [{ major: 3, minor: 3 }, true],
    [{ major: 3, minor: 0 }, true],
    [{ major: 4, minor: 0 }, true],
    [{ major: 2, minor: 9 }, false],
    [{ major: 1, minor: 99 }, false],
  ])('versionAtLeast(%j, MIN_TMUX)', (v, want) => {
    expect(versionAtLeast({ ...v, raw: '' })).toBe(want);
  });

  it('explicit minimums compare minor within the same major', () => {
    expect(MIN_TMUX).toEqual({ major: 3, minor: 0 });
    expect(versionAtLeast({ major: 3, minor: 2, raw: '' }, { major: 3, minor: 3 })).toBe(false);
    expect(versionAtLeast({ major: 3, minor: 3, raw: '' }, { major: 3, minor: 3 })).toBe(true);
    expect(versionAtLeast({ major: 3, minor: 10, raw: '' }, { major: 3, minor: 9 })).toBe(true);
  });
});

describe('isPaneId', () => {
  it.each(['%0', '%1', '%12', '%99999'])('%j is a pane id', (s) => expect(isPaneId(s)).toBe(true));
  it.each(['', '%', '12', 'marie', '%1a', '%-1', ' %1', '%1 ', '%1\n', '%1;kill-server', 'proj:1.0', '=proj', '@1', '$1', '%1.0'])('%j is not', (s) => expect(isPaneId(s)).toBe(false));
});

describe('sanitizeForPane', () => {
  it.each([
    // [name, input, expected text]
    ['plain text untouched', 'hello world', 'hello world'],
    ['unicode kept', 'héllo ✓ 日本語 🐝', 'héllo ✓ 日本語 🐝'],
    ['CSI colour', 'a\x1b[31mred\x1b[0mb', 'aredb'],
    ['CSI private mode (bracketed paste off)', 'x\x1b[?2004ly', 'xy'],
    ['CSI cursor movement and erase', '\x1b[2J\x1b[1;1Hhome\x1b[K', 'home'],
    ['bracketed paste end marker', 'before\x1b[201~after', 'beforeafter'],
    ['bracketed paste start marker', '\x1b[200~inner', 'inner'],
    ['paste end marker on its own line', 'one\n\x1b[201~\ntwo', 'one\n\ntwo'],
    ['nested ESC before the end marker leaves no ESC', 'a\x1b\x1b[201~b', 'ab'],
    ['OSC title ended by BEL', '\x1b]0;pwned title\x07text', 'text'],
    ['OSC hyperlink ended by ST', '\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\', 'link'],
    ['OSC 52 clipboard write', 'x\x1b]52;c;ZWNobyBwd25lZA==\x07y', 'xy'],
    ['DCS string', '\x1bPq#0;2;0;0;0\x1b\\after', 'after'],
    ['DCS tmux passthrough', '\x1bPtmux;\x1b\x1b]0;x\x07\x1b\\ok', 'ok'],
    ['APC / PM / SOS strings', '\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\z', 'z'],
    ['two-character ESC sequences', 'a\x1bMb\x1b7c\x1b=d', 'abcd'],
    ['ESC sequences with a final byte below @ (save cursor, keypad, reset)', 'a\x1b7b\x1b8c\x1b=d\x1b>e\x1bcf', 'abcdef'],
    ['charset switch from tput sgr0 leaves no "(B"', '\x1b[1mbold\x1b(B\x1b[m plain', 'bold plain'],
    ['lone ST', 'a\x1b\\b', 'ab'],
    ['C0 controls dropped', 'a\x00b\x01c\x03d\x04e\x07f\x08g\x1ah\x1b', 'abcdefgh'],
    // ESC followed by a printable character is a sequence (ESC i = media copy): both go.
    ['ESC + letter is a sequence, not a stray ESC', 'h\x1bij', 'hj'],
    ['DEL dropped', 'ab\x7fc', 'abc'],
    ['C1 controls dropped', 'a\x85b\x90c\x9cd', 'abcd'],
    ['8-bit CSI sequence dropped', 'a\x9b31mb', 'ab'],
    ['CRLF becomes LF', 'one\r\ntwo\r\n', 'one\ntwo\n'],
    ['lone CR becomes LF (it would be an Enter)', 'one\rtwo', 'one\ntwo'],
    ['tab becomes two spaces (no completion)', 'a\tb', 'a  b'],
    ['vertical tab and form feed dropped', 'a\x0bb\x0cc', 'abc'],
    ['literal key names are just text', 'C-c Enter Escape', 'C-c Enter Escape'],
    ['tmux syntax is just text', '; kill-server #{pane_id} #(id)', '; kill-server #{pane_id} #(id)'],
    ['shell syntax is just text', '$(touch /tmp/x) `id`', '$(touch /tmp/x) `id`'],
    ['only controls leaves nothing', '\x1b[201~\x03\x04', ''],
  ])('%s', (_name, input, want) => {
    const r = sanitizeForPane(input);
    expect(r.text).toBe(want);
  });

  it('counts what it removed or replaced', () => {
    expect(sanitizeForPane('plain').neutralised).toBe(0);
    expect(sanitizeForPane('a\x1b[31mb').neutralised).toBe(5);
    expect(sanitizeForPane('a\tb').neutralised).toBe(1);
    expect(sanitizeForPane('a\x03\x04b').neutralised).toBe(2);
    // CRLF normalisation is not counted: it is the same line break.
    expect(sanitizeForPane('a\r\nb').neutralised).toBe(0);
  });

  it('whatever goes in, no control character other than \\n comes out (random strings)', () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const alphabet = ['\x1b', '[', ']', 'P', '\\', '\x07', '2', '0', '1', '~', ';', 'm', '\r', '\n', '\t', '\x03', '\x9b', '\x9c', 'a', ' ', '\x7f', 'é'];
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(rnd() * 40);
      let s = '';
      for (let j = 0; j < len; j++) s += alphabet[Math.floor(rnd() * alphabet.length)]!;
      const out = sanitizeForPane(s).text;
      // eslint-disable-next-line no-control-regex
      expect(out).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
      expect(out).not.toContain('\x1b[201~');
    }
  });

  it('singleLine folds newlines into one line and trims', () => {
    expect(singleLine('  one\r\ntwo\n\nthree\x1b[0m  ')).toBe('one two three');
    expect(singleLine('\x1b[201~')).toBe('');
  });
});

describe('classifyPane with the shipped profiles', () => {
  // The task workers' profiles (`*-oneshot`) run their CLI once per task, never at a prompt in a
  // pane: they have no screen patterns to test.
  const profiles = new Map([...loadProfiles([builtinProfilesDir()])].filter(([name]) => !name.endsWith('-oneshot')));

  /** Screens that each profile's patterns should recognise; null where the profile has no such pattern. */
  const samples: Record<string, { permission: string; busy: string | null; idle: string; error: string | null }> = {
    'claude-code': {
      permission: ' Do you want to proceed?\n ❯ 1. Yes\n   2. No',
      busy: '✻ Thinking… (12s · esc to interrupt)',
      idle: '│ >   ',
      error: 'API Error: 529 overloaded_error',
    },
    codex: { permission: 'Allow command? [y/N]', busy: 'Working (4s • Esc to interrupt)', idle: '⏎ send   ⇧⏎ newline', error: 'stream error: 429' },
    gemini: { permission: 'Allow execution of: rm? Yes, allow once', busy: '⠋ Reasoning (esc to cancel, 3s)', idle: '> ', error: 'RESOURCE_EXHAUSTED' },
    aider: { permission: 'Run shell command? (Y)es/(N)o [Yes]:', busy: 'Tokens: 2.1k sent, 300 received.', idle: '> ', error: 'litellm.RateLimitError' },
    demo: { permission: 'Allow Bash? [y/n] ', busy: 'working…', idle: 'demo> ', error: 'demo error: simulated crash' },
    shell: { permission: '[sudo] password for marie: ', busy: null, idle: 'hornets$ ', error: null },
  };

  it('every shipped profile has samples here', () => {
    expect([...profiles.keys()].sort()).toEqual(Object.keys(samples).sort());
  });

  const cases = Object.entries(samples).flatMap(([name, s]) => {
    const rows: { profile: string; label: string; screen: string; want: string }[] = [];
    const screen = (...lines: (string | null)[]) => `some earlier output\n${lines.filter((l) => l !== null).join('\n')}\n\n\n`;
    rows.push({ profile: name, label: 'idle prompt', screen: screen(s.idle), want: 'idle' });
    rows.push({ profile: name, label: 'permission prompt', screen: screen(s.permission), want: 'permission' });
    rows.push({ profile: name, label: 'permission beats busy', screen: screen(s.busy, s.permission), want: 'permission' });
    // The real CLIs draw their dialogs in place of the input line: a prompt line below a question
    // means the question is old output (or a message that quoted one), not a live dialog.
    rows.push({ profile: name, label: 'an idle prompt below a permission question', screen: screen(s.permission, s.idle), want: 'idle' });
    if (s.busy !== null) {
      rows.push({ profile: name, label: 'busy', screen: screen(s.busy), want: 'busy' });
      const live = profiles.get(name)!.patterns.liveLines ?? 12;
      // Within the live region busy beats idle (Claude Code keeps its input box while it works); a
      // busy line above that region is old output and must not make the agent look busy forever.
      rows.push({ profile: name, label: 'busy beats idle', screen: screen(s.busy, s.idle), want: live >= 2 ? 'busy' : 'idle' });
      rows.push({ profile: name, label: 'stale busy line above the live region', screen: screen(s.busy, ...Array.from({ length: live }, (_, i) => `later output ${i}`), s.idle), want: 'idle' });
    }
    if (s.error !== null) rows.push({ profile: name, label: 'error only', screen: screen(s.error), want: 'error' });
    rows.push({ profile: name, label: 'nothing recognisable', screen: 'lorem ipsum\ndolor sit amet', want: 'unknown' });
    rows.push({ profile: name, label: 'empty screen', screen: '\n\n\n', want: 'unknown' });
    return rows;
  });

  it.each(cases)('$profile: $label -> $want', ({ profile, screen, want }) => {
    const patterns: PanePatterns = profiles.get(profile)!.patterns;
    expect(classifyPane(patterns, screen)).toBe(want);
  });

  it('idle only counts on the last line: an old prompt higher up is not idle', () => {
    const demo = profiles.get('demo')!.patterns;
    expect(classifyPane(demo, 'demo> \ndone: hi\nsomething else')).toBe('unknown');
    expect(classifyPane(demo, 'demo> hello (typed, not submitted)')).toBe('unknown');
  });

  it('a permission prompt above the live region is no longer seen', () => {
    const demo = profiles.get('demo')!.patterns;
    expect(classifyPane(demo, ['Allow Bash? [y/n] y', 'done: x', 'demo> '].join('\n'))).toBe('idle');
    expect(classifyPane(demo, ['Allow Bash? [y/n] y', 'done: x'].join('\n'))).toBe('unknown');
  });

  it('the shell profile prompt with the demo permission pattern: permission wins', () => {
    const demo = profiles.get('demo')!.patterns;
    expect(classifyPane(demo, "hornets$ printf 'x'; read x\nAllow Bash? [y/n] ")).toBe('permission');
  });
});
