/**
 * The persistent control-mode channel on real tmux (a private server per test): hostile text typed
 * with send-keys -l arrives byte for byte, every carried command answers exactly as a spawned tmux
 * does, and the channel fails safe — a client killed or frozen mid-command, a server killed, a
 * session gone — with a typed error or a spawned tmux, never a hang, and leaves no process behind.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TmuxClient } from '../../src/tmux/client.js';
import { TmuxChannelClosed, TmuxChannelUnavailable } from '../../src/tmux/channel.js';
import { TmuxError } from '../../src/tmux/errors.js';
import { createRunner, type TmuxRunner } from '../../src/tmux/runner.js';
import { TmuxFixture, capture, serverAlive, testEnv, tmux, tmuxOk, waitFor } from '../helpers/tmux.js';
import { closeTeams, startTeam, stateOf } from '../helpers/team.js';
import { compiledPath } from '../helpers/compiled.js';

const fx = new TmuxFixture();
afterEach(async () => {
  await closeTeams();
  await fx.cleanup();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Control-mode clients attached to the server (the channel's, and nobody else's in these tests). */
function controlClients(socket: string): string[] {
  return tmux(socket, ['list-clients', '-F', '#{client_pid} #{client_flags}'])
    .stdout.split('\n')
    .filter((l) => l.includes('control-mode'));
}

/** A private server with session `s` whose pane runs `script`; a client with a channel and one without. */
async function server(script: string): Promise<{ socket: string; dir: string; pane: string; client: TmuxClient; plain: TmuxClient; spawned: string[][] }> {
  const socket = fx.socket();
  const dir = fx.dir('hornets-channel-');
  tmuxOk(socket, ['new-session', '-d', '-s', 's', '-x', '120', '-y', '30', '-c', dir, 'sh', '-c', script]);
  const pane = tmuxOk(socket, ['display-message', '-p', '-t', 's:', '#{pane_id}']).trim();
  const ref = { socket, configFile: '/dev/null' };
  const spawned: string[][] = [];
  const spawn = createRunner();
  // Counts the tmux processes the channel client falls back to (the channel's own start aside).
  const counting: TmuxRunner = (argv, options) => {
    spawned.push([...argv]);
    return spawn(argv, options);
  };
  const client = new TmuxClient({ server: ref, runner: counting, channel: { session: 's', retryMs: 200 } });
  fx.defer(() => client.close());
  return { socket, dir, pane, client, plain: new TmuxClient({ server: ref }), spawned };
}

async function channelUp(client: TmuxClient): Promise<void> {
  await waitFor('the channel up', async () => {
    await client.listPanes();
    return client.channel!.ready;
  });
}

const HOSTILE = [
  `it's "quoted" \\ back\\slash\\`,
  '$HOME ${HOME} $(id) `id` ~ ~root',
  'semi; colon ; ;; end;x',
  '# not a comment #{pane_id} #{?1,a,b} ##',
  '{braces} } {',
  'héllo ✓ 🐝 日本語 ñ',
  '%end 1796203880 1 1',
  '%begin 1 1 1',
  'x -t %0 -l',
  '\\u00e9 \\n \\033 \\\\',
];

describe('tmux control channel on real tmux', () => {
  it('hostile text typed with send-keys -l arrives byte for byte, and the screen reads the same as with a spawned tmux', async () => {
    // Raw mode, no echo: the pane's program gets exactly the bytes typed, newlines and tabs included.
    const s = await server(`stty raw -echo; cat > typed.bin`);
    await channelUp(s.client);
    const text = [...HOSTILE, 'tab\there', 'line1\nline2\r'].join('|');
    await s.client.channel!.request(['send-keys', '-t', s.pane, '-l', text]);
    await waitFor('every byte typed', () => readFileSync(join(s.dir, 'typed.bin'), 'utf8') === text, 5000);

    // An echoing pane: what the channel reads back matches a spawned capture, char for char.
    const e = await server(`cat`);
    await channelUp(e.client);
    for (const line of HOSTILE) {
      expect(line.endsWith(';')).toBe(false);
      await e.client.typeLiteral(e.pane, line);
    }
    await waitFor('the last line echoed', () => capture(e.socket, e.pane).includes(HOSTILE.at(-1)!));
    const viaChannel = await e.client.capture(e.pane);
    expect(viaChannel).toBe(await e.plain.capture(e.pane));
    for (const line of HOSTILE) expect(viaChannel).toContain(line);
    expect(e.spawned.filter((a) => a.includes('send-keys') || a.includes('capture-pane'))).toEqual([]);
  });

  it('answers every carried command as a spawned tmux does, errors included', async () => {
    const s = await server(`printf 'ready\\n'; exec sleep 600`);
    await waitFor('ready', () => capture(s.socket, s.pane).includes('ready'));
    await channelUp(s.client);
    s.spawned.length = 0;
    expect(await s.client.listPanes()).toEqual(await s.plain.listPanes());
    expect(await s.client.paneScreen(s.pane)).toEqual(await s.plain.paneScreen(s.pane));
    expect(await s.client.capture(s.pane, { start: -5 })).toBe(await s.plain.capture(s.pane, { start: -5 }));
    expect(await s.client.display(s.pane, '#{pane_id} "#{session_name}" $x; ;'.slice(0, -1))).toBe(await s.plain.display(s.pane, '#{pane_id} "#{session_name}" $x; ;'.slice(0, -1)));
    expect(await s.client.hasSession('s')).toBe(true);
    expect(await s.client.hasSession('nope')).toBe(false);
    expect(await s.client.paneScreen('%999')).toBeNull();
    const err = await s.client.sendKey('%999', 'Enter').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TmuxError);
    expect((err as TmuxError).missingTarget).toBe(true);
    expect((err as TmuxError).message).toMatch(/can't find pane: %999/);
    // All of it went through the channel: not one tmux process.
    expect(s.spawned).toEqual([]);
    // One client, flagged so it neither sizes windows nor receives pane output; the window kept its size.
    const clients = controlClients(s.socket);
    expect(clients).toHaveLength(1);
    expect(clients[0]!.split(' ')[0]).toBe(String(s.client.channel!.pid));
    expect(clients[0]!.split(' ')[1]!.split(',')).toEqual(expect.arrayContaining(['control-mode', 'ignore-size', 'no-output', 'UTF-8']));
    expect(tmuxOk(s.socket, ['display-message', '-p', '-t', s.pane, '#{window_width}x#{window_height}']).trim()).toBe('120x30');
  });

  it('the client killed while commands wait: a read runs again by spawning tmux, a keystroke fails typed (never sent twice)', async () => {
    const s = await server(`exec sleep 600`);
    await channelUp(s.client);
    const ch = s.client.channel!;
    const pid = ch.pid!;
    // run-shell holds the client's command queue until its command ends: what follows waits.
    void ch.request(['run-shell', 'sleep 2']).catch(() => undefined);
    const typed = s.client.sendKey(s.pane, 'Enter').catch((e: unknown) => e);
    const read = s.client.paneScreen(s.pane);
    await new Promise((r) => setTimeout(r, 100));
    s.spawned.length = 0;
    process.kill(pid, 'SIGKILL');
    const err = await typed;
    expect(err).toBeInstanceOf(TmuxError);
    expect(err).not.toBeInstanceOf(TmuxChannelClosed);
    expect(err).toMatchObject({ status: null });
    expect((err as Error).message).toMatch(/control channel closed before tmux answered/);
    expect(await read).toMatchObject({ dead: false });
    expect(s.spawned.map((a) => a[4])).toEqual(['display-message']);
    await waitFor('the client gone', () => !alive(pid));
    // The next command spawns tmux and starts a fresh client.
    s.spawned.length = 0;
    await s.client.listPanes();
    expect(s.spawned.length).toBe(1);
    await channelUp(s.client);
    expect(ch.pid).not.toBe(pid);
  });

  it('the server dying mid-command: what waits fails, a read falls back to spawning tmux ("no server")', async () => {
    const s = await server(`exec sleep 600`);
    await channelUp(s.client);
    const ch = s.client.channel!;
    const pid = ch.pid!;
    const serverPid = Number(tmuxOk(s.socket, ['display-message', '-p', '#{pid}']).trim());
    void ch.request(['run-shell', 'sleep 2']).catch(() => undefined);
    const waiting = ch.request(['display-message', '-p', 'x']).catch((e: unknown) => e);
    const typed = s.client.sendKey(s.pane, 'Enter').catch((e: unknown) => e);
    const read = s.client.paneScreen(s.pane);
    await new Promise((r) => setTimeout(r, 100));
    s.spawned.length = 0;
    process.kill(serverPid, 'SIGKILL');
    expect(await waiting).toBeInstanceOf(TmuxChannelClosed);
    expect(await typed).toMatchObject({ status: null });
    // The read ran again as a tmux process, which found no server.
    expect(await read).toBeNull();
    expect(s.spawned.map((a) => a[4])).toEqual(['display-message']);
    await waitFor('the client gone', () => !alive(pid));
  });

  it('a server that does not answer: the command fails at its deadline instead of hanging, and the client is replaced', async () => {
    const s = await server(`exec sleep 600`);
    await channelUp(s.client);
    const ch = s.client.channel!;
    const pid = ch.pid!;
    const serverPid = Number(tmuxOk(s.socket, ['display-message', '-p', '#{pid}']).trim());
    process.kill(serverPid, 'SIGSTOP');
    try {
      const started = Date.now();
      const err = await ch.request(['display-message', '-p', 'x'], 300).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TmuxError);
      expect((err as TmuxError).status).toBeNull();
      expect((err as Error).message).toMatch(/timed out after 300 ms/);
      expect(Date.now() - started).toBeLessThan(3000);
      await waitFor('the client killed', () => !alive(pid));
    } finally {
      process.kill(serverPid, 'SIGCONT');
    }
    // After, commands work and the channel comes back.
    expect((await s.client.listPanes()).length).toBe(1);
    await channelUp(s.client);
    expect(ch.pid).not.toBe(pid);
  });

  it('the server killed: the channel goes, commands answer "no server" by spawning tmux, no process is left', async () => {
    const s = await server(`exec sleep 600`);
    await channelUp(s.client);
    const pid = s.client.channel!.pid!;
    tmuxOk(s.socket, ['kill-server']);
    await waitFor('the channel down', () => !s.client.channel!.ready && !alive(pid));
    expect(await s.client.listPanes()).toEqual([]);
    expect(await s.client.paneScreen(s.pane)).toBeNull();
    // Tries to come back fail (no server) and are spaced out; nothing lingers.
    await new Promise((r) => setTimeout(r, 300));
    expect(await s.client.listPanes()).toEqual([]);
    await waitFor('no channel process', () => s.client.channel!.pid === null);
    expect(await s.client.channel!.request(['list-panes']).catch((e: unknown) => e)).toBeInstanceOf(TmuxChannelUnavailable);
  });

  it('never keeps the server up nor creates a session: killing the last session ends the server and the client', async () => {
    const s = await server(`exec sleep 600`);
    await channelUp(s.client);
    const pid = s.client.channel!.pid!;
    tmuxOk(s.socket, ['kill-session', '-t', '=s']);
    await waitFor('the server gone', () => !serverAlive(s.socket));
    await waitFor('the client gone', () => !alive(pid));
    expect(await s.client.listPanes()).toEqual([]);
    // A session of another name: the channel does not attach to it, let alone make its own.
    tmuxOk(s.socket, ['new-session', '-d', '-s', 'other', 'sleep', '600']);
    await new Promise((r) => setTimeout(r, 300));
    expect((await s.client.listPanes()).map((p) => p.session)).toEqual(['other']);
    expect(s.client.channel!.ready).toBe(false);
    expect(tmuxOk(s.socket, ['list-sessions', '-F', '#{session_name}']).trim()).toBe('other');
  });

  it('close() ends the client; commands after it spawn tmux', async () => {
    const s = await server(`exec sleep 600`);
    await channelUp(s.client);
    const pid = s.client.channel!.pid!;
    await s.client.close();
    expect(alive(pid)).toBe(false);
    expect(controlClients(s.socket)).toEqual([]);
    s.spawned.length = 0;
    expect((await s.client.listPanes()).length).toBe(1);
    expect(s.spawned.length).toBe(1);
    expect(s.client.channel!.pid).toBeNull();
  });
  it('its owner killed with SIGKILL: the client leaves with it (its stdin closes), nothing is left attached', async () => {
    const s = await server(`exec sleep 600`);
    // A separate Node process owns a channel, reports the client's pid once it is up, then is killed.
    const script = `
      const { TmuxClient } = await import(${JSON.stringify(compiledPath('src/tmux/client.ts'))});
      const c = new TmuxClient({ server: { socket: ${JSON.stringify(s.socket)}, configFile: '/dev/null' }, channel: { session: 's' } });
      while (!c.channel.ready) { await c.listPanes(); await new Promise((r) => setTimeout(r, 20)); }
      console.log(c.channel.pid);
      setInterval(() => c.listPanes(), 1000);`;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { env: testEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    owner.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const pid = Number(await waitFor('the channel pid', () => out.trim()));
    expect(controlClients(s.socket).map((l) => l.split(' ')[0])).toEqual([String(pid)]);
    owner.kill('SIGKILL');
    await waitFor('the client gone', () => !alive(pid) && controlClients(s.socket).length === 0);
    expect(serverAlive(s.socket)).toBe(true);
  });
});

describe('the engine and its channel', () => {
  it('delivers through the channel, and engine stop leaves no tmux client', async () => {
    const t = await startTeam([{ name: 'marie', profile: 'demo' }]);
    await waitFor('marie idle', async () => (await stateOf(t, 'marie')) === 'idle', 20_000);
    const engineTmux = t.daemon.engine.agents.tmux;
    await channelUp(engineTmux);
    const { message } = await t.svc.send('marie', 'through the channel');
    await waitFor('message confirmed', async () => (await t.ctx.store.get(message.id)).state === 'confirmed', 20_000);
    const channel = engineTmux.channel!;
    expect(channel.ready).toBe(true);
    const pid = channel.pid!;
    expect(controlClients(t.socket)).toHaveLength(1);
    await t.daemon.stop();
    expect(alive(pid)).toBe(false);
    expect(controlClients(t.socket)).toEqual([]);
  }, 60_000);
});
