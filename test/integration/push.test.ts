/**
 * Typing into panes (`pushText`) on real tmux: into the scripted demo agent, whose transcript
 * records exactly what it received, and into a plain shell. Hostile text must arrive as inert text
 * (exactly sanitizeForPane(text), nothing else typed, tmux untouched), and pushes must be refused
 * at a permission prompt, while busy and when the pane is dead. In-process: AgentManager and
 * TmuxClient on a private socket per test.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { PanePatterns } from '../../src/domain/pane-state.js';
import { openProject, type ProjectContext } from '../../src/services/context.js';
import { AgentManager } from '../../src/services/agents.js';
import { PushRefused, pushText } from '../../src/services/push.js';
import { TmuxClient } from '../../src/tmux/client.js';
import { sanitizeForPane } from '../../src/tmux/sanitize.js';
import { builtinProfilesDir } from '../../src/config/paths.js';
import { assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, capture, lastLine, listPanes, serverAlive, tmux, tmuxOk, waitFor } from '../helpers/tmux.js';

// The agents' tmux server inherits this process's environment: nothing of the caller's hornets
// setup or vitest's loaders may leak into it.
for (const k of Object.keys(process.env)) if (k.startsWith('HORNETS_')) delete process.env[k];
delete process.env.NODE_OPTIONS;

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
});

/**
 * `demo-push`: the demo agent as a push-only profile (no hooks), which is what typing into panes
 * is for; it keeps hook traffic out of these timings. `hooked` runs the shipped demo profile, hooks
 * and all, to show a push lands the same way there.
 */
const AGENTS = [
  { name: 'bee', profile: 'demo-push', env: { HORNETS_DEMO_WORK_MS: '20' } },
  { name: 'hooked', profile: 'demo', env: { HORNETS_DEMO_WORK_MS: '20' } },
  { name: 'slowbee', profile: 'demo-push', env: { HORNETS_DEMO_WORK_MS: '2000' } },
  { name: 'sh', profile: 'shell' },
];

function demoPushProfile(): string {
  const demo = JSON.parse(readFileSync(path.join(builtinProfilesDir(), 'demo.json'), 'utf8')) as Record<string, unknown>;
  const { $schema: _schema, ...rest } = demo;
  return JSON.stringify({ ...rest, name: 'demo-push', description: 'the demo agent, push delivery only', delivery: 'push', hooks: { kind: 'none' } });
}

interface Rig {
  ctx: ProjectContext;
  m: AgentManager;
  tmux: TmuxClient;
  socket: string;
  pane: Map<string, string>;
  patterns: (profile: string) => PanePatterns;
  prompts: (agent: string) => string[];
}

/** A project with the agents above, `up` for only the ones a test needs, each at its prompt. */
async function rig(...names: string[]): Promise<Rig> {
  const dir = fx.dir('hornets-push-');
  const configPath = path.join(dir, 'hornets.json');
  mkdirSync(path.join(dir, 'profiles'));
  writeFileSync(path.join(dir, 'profiles', 'demo-push.json'), demoPushProfile());
  writeFileSync(configPath, JSON.stringify({ project: `push-${randomBytes(3).toString('hex')}`, profilesDir: 'profiles', agents: AGENTS }, null, 2));
  const socket = fx.socket();
  const ctx = await openProject({ configPath, env: {} });
  fx.defer(() => ctx.close());
  const client = new TmuxClient({ server: { socket, configFile: path.join(ctx.project.paths.root, 'tmux.conf') } });
  const m = new AgentManager(ctx.project, ctx.store, ctx.log, client);
  const report = await m.up(names);
  expect(report.failed).toEqual([]);
  const pane = new Map<string, string>();
  for (const n of names) pane.set(n, (await ctx.store.getAgent(n))!.paneId!);
  const transcript = (agent: string) => path.join(ctx.project.paths.root, 'demo', `${agent}.jsonl`);
  const r: Rig = {
    ctx,
    m,
    tmux: client,
    socket,
    pane,
    patterns: (profile) => ctx.project.profiles.get(profile)!.patterns,
    prompts: (agent) =>
      existsSync(transcript(agent))
        ? readFileSync(transcript(agent), 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { type: string; text: string })
            .filter((e) => e.type === 'prompt')
            .map((e) => e.text)
        : [],
  };
  for (const n of names) await waitIdle(r, n);
  return r;
}

/** The agent sits at its prompt with an empty input line. */
async function waitIdle(r: Rig, agent: string, timeoutMs = 15_000): Promise<void> {
  const want = agent === 'sh' ? 'hornets$' : 'demo>';
  const pane = r.pane.get(agent)!;
  try {
    await waitFor(`${agent} idle at "${want}"`, () => lastLine(capture(r.socket, pane)) === want, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nscreen of ${pane}:\n${capture(r.socket, pane).trimEnd().split('\n').slice(-15).join('\n')}`);
  }
}

function windowList(r: Rig): string {
  return tmuxOk(r.socket, ['list-windows', '-a', '-F', '#{session_name}:#{window_name}:#{pane_id}']);
}

/**
 * Pushes `text` to bee and checks the demo transcript got exactly the sanitised text as one
 * prompt, the agent went back to an empty prompt (nothing else typed), and tmux is unharmed.
 */
async function pushToBee(r: Rig, text: string, opts: { arrivalTimeoutMs?: number; agent?: string } = {}): Promise<void> {
  const agent = opts.agent ?? 'bee';
  const pane = r.pane.get(agent)!;
  const windowsBefore = windowList(r);
  const result = await pushText(r.tmux, pane, text, { patterns: r.patterns('demo'), arrivalTimeoutMs: opts.arrivalTimeoutMs });
  const expected = sanitizeForPane(text).text;
  expect(result).toMatchObject({ paneId: pane, bytes: Buffer.byteLength(expected), neutralised: sanitizeForPane(text).neutralised, verdictBefore: 'idle' });
  await waitFor('the prompt in the transcript', () => r.prompts(agent).length >= 1, 20_000);
  await waitIdle(r, agent, 20_000);
  const prompts = r.prompts(agent);
  expect(prompts).toHaveLength(1);
  // toBe on 100 KB strings prints unreadable diffs; compare lengths first.
  expect(prompts[0]!.length).toBe(expected.length);
  expect(prompts[0]).toBe(expected);
  expect(serverAlive(r.socket)).toBe(true);
  expect(windowList(r)).toBe(windowsBefore);
  expect(listPanes(r.socket).find((p) => p.paneId === pane)!.dead).toBe(false);
}

describe('push into the demo agent', () => {
  it('a single line arrives as one prompt, typed without bracketed paste', async () => {
    const r = await rig('bee');
    await pushToBee(r, 'please review the parser — héllo ✓ 日本語');
  });

  it('multi-line text arrives as ONE prompt with its newlines intact (bracketed paste)', async () => {
    const r = await rig('bee');
    await pushToBee(r, 'first line\n  indented second line\n\nfourth after a blank line\nlast');
  });

  it('the shipped demo profile (hooks installed): single line, then multi-line, each one prompt', async () => {
    const r = await rig('hooked');
    await pushToBee(r, 'hello from a push', { agent: 'hooked' });
    const pane = r.pane.get('hooked')!;
    await pushText(r.tmux, pane, 'two\nlines', { patterns: r.patterns('demo') });
    await waitFor('the second prompt', () => r.prompts('hooked').length === 2, 20_000);
    await waitIdle(r, 'hooked', 20_000);
    expect(r.prompts('hooked')).toEqual(['hello from a push', 'two\nlines']);
  });

  const pwned = `/tmp/pwned-${randomBytes(6).toString('hex')}`;
  const hostile: [string, string][] = [
    ['ANSI colours, cursor moves, an OSC title and an OSC 52 clipboard write', 'red \x1b[31mALERT\x1b[0m \x1b[2J\x1b[H\x1b]0;owned\x07 \x1b]52;c;cm0gLXJm\x07 done'],
    ['the bracketed-paste end marker in the middle of multi-line text', `line one\nstill pasting \x1b[201~ now typing\n\x1b[201~rm -rf ~\nlast line`],
    ['the paste end marker in a single line', 'before \x1b[201~ after'],
    ['"C-c" as text and a real \\x03', 'press C-c now \x03 and C-d \x04 Escape Enter'],
    ['a tmux command separator', 'x ; kill-server ; kill-session -a'],
    ['tmux format and #() syntax', 'pane #{pane_id} #{session_name} #(touch /tmp/hornets-fmt)'],
    ['shell command substitution', `$(touch ${pwned}) \`touch ${pwned}\``],
    ['CR, CRLF and tabs', 'one\r\ntwo\rthree\tfour'],
  ];

  it.each(hostile)('hostile text is typed inert: %s', async (_label, text) => {
    const r = await rig('bee');
    await pushToBee(r, text);
    expect(existsSync(pwned)).toBe(false);
    expect(existsSync('/tmp/hornets-fmt')).toBe(false);
  });

  it('a 100 KB single line arrives whole', async () => {
    const r = await rig('bee');
    let text = '';
    for (let i = 0; text.length < 100 * 1024; i++) text += `word${i} `;
    text = `${text.slice(0, 100 * 1024 - 4)}END!`;
    await pushToBee(r, text);
  });

  it('a 100 KB multi-line text arrives whole as one prompt', async () => {
    const r = await rig('bee');
    const lines = Array.from({ length: 1100 }, (_, i) => `line ${String(i).padStart(4, '0')} ${'abcdefghij'.repeat(9)}`);
    const text = lines.join('\n');
    expect(text.length).toBeGreaterThan(100 * 1024);
    await pushToBee(r, text);
  });
});

describe('push into a shell pane', () => {
  it('a single line runs as one command', async () => {
    const r = await rig('sh');
    const pane = r.pane.get('sh')!;
    await pushText(r.tmux, pane, 'echo single-$((6*7))-ok', { patterns: r.patterns('shell') });
    await waitFor('the command output', () => /^single-42-ok$/m.test(capture(r.socket, pane)));
    await waitIdle(r, 'sh');
  });

  it('multi-line text is pasted whole (bracketed) and runs line by line after one Enter', async () => {
    const r = await rig('sh');
    const pane = r.pane.get('sh')!;
    await pushText(r.tmux, pane, 'echo one-$((1+1))\necho two-$((2+2))', { patterns: r.patterns('shell') });
    await waitFor('both outputs', () => /^one-2$/m.test(capture(r.socket, pane)) && /^two-4$/m.test(capture(r.socket, pane)));
    await waitIdle(r, 'sh');
  });

  it('hostile text reaches the shell as the command line it spells, nothing more', async () => {
    const r = await rig('sh');
    const pane = r.pane.get('sh')!;
    const windowsBefore = windowList(r);
    // Unsanitised, the \x03 would cancel the line and the paste end marker would let the second
    // line run on its own; sanitised, both lines arrive in one paste and run after the one Enter.
    const text = "printf '%s\\n' 'got: ; kill-server #{pane_id} C-c \x1b[31mred\x1b[0m'\x03\n\x1b[201~echo second-$((2+1))";
    await pushText(r.tmux, pane, text, { patterns: r.patterns('shell') });
    await waitFor('both outputs', () => /^got: ; kill-server #\{pane_id\} C-c red$/m.test(capture(r.socket, pane)) && /^second-3$/m.test(capture(r.socket, pane)));
    await waitIdle(r, 'sh');
    expect(serverAlive(r.socket)).toBe(true);
    expect(windowList(r)).toBe(windowsBefore);
  });
});

describe('refusals: nothing is typed', () => {
  /** Puts the shell pane at a prompt that reads one answer, then prints it. */
  async function ask(r: Rig, question: string): Promise<string> {
    const pane = r.pane.get('sh')!;
    await pushText(r.tmux, pane, `printf '%s' '${question}'; read -r x; echo "answered:[$x]"`, { patterns: r.patterns('shell') });
    await waitFor(`the question "${question}"`, () => lastLine(capture(r.socket, pane)) === question.trimEnd());
    return pane;
  }

  /** Answers the question ourselves and returns what `read` got: anything typed by a push would show. */
  async function answer(r: Rig, pane: string, key: string): Promise<string> {
    tmuxOk(r.socket, ['send-keys', '-t', pane, '-l', key]);
    tmuxOk(r.socket, ['send-keys', '-t', pane, 'Enter']);
    const m = await waitFor('the answer', () => /^answered:\[(.*)\]$/m.exec(capture(r.socket, pane)));
    return m[1]!;
  }

  it.each([
    ['the demo profile pattern', 'Allow Bash? [y/n] ', 'demo'],
    ['the shell profile [y/N]', 'Overwrite file? [y/N] ', 'shell'],
    ['a sudo password prompt', '[sudo] password for bee: ', 'shell'],
  ])('a permission prompt (%s): PushRefused, screen unchanged, the prompt still waits for its own answer', async (_label, question, profile) => {
    const r = await rig('sh');
    const pane = await ask(r, question);
    const before = capture(r.socket, pane);
    const err = await pushText(r.tmux, pane, 'y and then some', { patterns: r.patterns(profile) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushRefused);
    expect((err as PushRefused).reason).toBe('permission');
    // It names the line that showed the prompt.
    expect((err as PushRefused).message).toContain(`permission prompt (line: ${question.trim()}); typing would answer it, so nothing was typed`);
    expect((err as PushRefused).line).toBe(question.trim());
    expect(capture(r.socket, pane)).toBe(before);
    // `read` gets exactly our key: the refused push left nothing in the input.
    expect(await answer(r, pane, 'n')).toBe('n');
  });

  it('a busy agent: PushRefused, and the agent never receives the text', async () => {
    const r = await rig('slowbee');
    const pane = r.pane.get('slowbee')!;
    await pushText(r.tmux, pane, 'first task', { patterns: r.patterns('demo') });
    await waitFor('the spinner', () => capture(r.socket, pane).includes('working…'));
    const err = await pushText(r.tmux, pane, 'second task', { patterns: r.patterns('demo') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushRefused);
    expect((err as PushRefused).reason).toBe('busy');
    await waitIdle(r, 'slowbee', 20_000);
    expect(r.prompts('slowbee')).toEqual(['first task']);
    expect(capture(r.socket, pane)).not.toContain('second task');
  });

  it('a dead pane (the agent crashed) and a pane that is gone: PushRefused("dead")', async () => {
    const r = await rig('bee');
    const pane = r.pane.get('bee')!;
    await pushText(r.tmux, pane, '/crash', { patterns: r.patterns('demo') });
    await waitFor('the pane dead', () => listPanes(r.socket).find((p) => p.paneId === pane)?.dead);
    const err = await pushText(r.tmux, pane, 'hello?', { patterns: r.patterns('demo') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushRefused);
    expect((err as PushRefused).reason).toBe('dead');
    expect((err as PushRefused).message).toMatch(/is dead; nothing was typed/);
    expect(capture(r.socket, pane)).not.toContain('hello?');

    tmux(r.socket, ['kill-pane', '-t', pane]);
    const gone = await pushText(r.tmux, pane, 'hello?', { patterns: r.patterns('demo') }).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(PushRefused);
    expect((gone as PushRefused).message).toMatch(/is gone; nothing was typed/);
    expect(r.prompts('bee')).toEqual([]);
  });

  it('text that is nothing but control sequences: PushRefused("empty"), nothing typed', async () => {
    const r = await rig('bee');
    const pane = r.pane.get('bee')!;
    const err = await pushText(r.tmux, pane, '\x1b[201~\x03\x04\r\n\t\x1b]0;x\x07', { patterns: r.patterns('demo') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushRefused);
    expect((err as PushRefused).reason).toBe('empty');
    expect(lastLine(capture(r.socket, pane))).toBe('demo>');
    await pushToBee(r, 'only this');
  });
});
