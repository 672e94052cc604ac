/**
 * TmuxClient against the strict fake runner: exactly which tmux commands each operation runs, in
 * which order, and how tmux's failures are read. (Real tmux is exercised by the integration tests.)
 */
import { describe, expect, it } from 'vitest';
import { TmuxClient } from '../../src/tmux/client.js';
import { TmuxError } from '../../src/tmux/errors.js';
import { paneFormat, type ServerRef } from '../../src/tmux/argv.js';
import { FakeTmux, UnexpectedTmuxCall } from '../helpers/fake-tmux.js';

const server: ServerRef = { socket: 'hornets-fake', configFile: '/tmp/hornets-fake.conf' };
const base = ['-L', 'hornets-fake', '-f', '/tmp/hornets-fake.conf'];
const noServer = { status: 1, stderr: 'no server running on /tmp/tmux-0/hornets-fake\n' };

function setup(): { fake: FakeTmux; client: TmuxClient } {
  const fake = new FakeTmux();
  return { fake, client: new TmuxClient({ server, runner: fake.runner }) };
}

describe('TmuxClient (strict fake runner)', () => {
  it('hasSession: exact-name target; a tmux failure means no session', async () => {
    const { fake, client } = setup();
    fake.expect({ argv: [...base, 'has-session', '-t', '=proj'] }, { argv: [...base, 'has-session', '-t', '=other'], fail: { status: 1, stderr: "can't find session: other" } });
    expect(await client.hasSession('proj')).toBe(true);
    expect(await client.hasSession('other')).toBe(false);
    fake.verify();
  });

  it('listPanes: no server running is an empty team, any other failure is an error', async () => {
    const { fake, client } = setup();
    fake.expect({ argv: [...base, 'list-panes', '-a', '-F', paneFormat], fail: noServer });
    expect(await client.listPanes()).toEqual([]);
    fake.expect({ argv: [...base, 'list-panes', '-a', '-F', paneFormat], fail: { status: 1, stderr: 'protocol version mismatch' } });
    await expect(client.listPanes()).rejects.toBeInstanceOf(TmuxError);
    fake.verify();
  });

  it('paste: text on load-buffer stdin into a private buffer, then paste-buffer of that buffer', async () => {
    const { fake, client } = setup();
    fake.expect(
      { argv: [...base, 'load-buffer', '-b', /^hornets-[0-9a-f]{12}$/, '-'], input: 'hello\nworld' },
      { argv: [...base, 'paste-buffer', '-d', '-p', '-b', /^hornets-[0-9a-f]{12}$/, '-t', '%7'] },
    );
    await client.paste('%7', 'hello\nworld', { bracketed: true });
    fake.verify();
    expect(fake.calls[1]!.argv[8]).toBe(fake.calls[0]!.argv[6]);
  });

  it('sendKey presses a named key on a pane id', async () => {
    const { fake, client } = setup();
    fake.expect({ argv: [...base, 'send-keys', '-t', '%3', 'Enter'] });
    await client.sendKey('%3', 'Enter');
    fake.verify();
  });

  it('killServer asks for the socket path first and tolerates a server that is already gone', async () => {
    const { fake, client } = setup();
    fake.expect({ argv: [...base, 'display-message', '-p', '#{socket_path}'], fail: noServer });
    await client.killServer();
    fake.verify();
  });

  it('showEnvironment: NAME=value is the value; "-NAME" (unset) and a failure are null', async () => {
    const { fake, client } = setup();
    fake.expect(
      { argv: [...base, 'show-environment', '-g', 'HORNETS_HOME'], stdout: 'HORNETS_HOME=/p/.hornets\n' },
      { argv: [...base, 'show-environment', '-g', 'HORNETS_HOME'], stdout: '-HORNETS_HOME\n' },
      { argv: [...base, 'show-environment', '-g', 'HORNETS_HOME'], fail: { status: 1, stderr: 'unknown variable: HORNETS_HOME' } },
    );
    expect(await client.showEnvironment('HORNETS_HOME')).toBe('/p/.hornets');
    expect(await client.showEnvironment('HORNETS_HOME')).toBeNull();
    expect(await client.showEnvironment('HORNETS_HOME')).toBeNull();
    fake.verify();
  });
});

describe('FakeTmux itself', () => {
  it('an unexpected call throws, and verify() reports it even when the caller swallowed the error', async () => {
    const { fake, client } = setup();
    fake.expect({ argv: [...base, 'has-session', '-t', '=proj'] });
    await expect(client.killPane('%1')).rejects.toBeInstanceOf(UnexpectedTmuxCall);
    // Code that catches the error (as paste does for delete-buffer) cannot hide it: verify() remembers.
    expect(() => fake.verify()).toThrow(/expected .*has-session[\s\S]*got .*kill-pane/);
  });

  it('verify() lists expected calls that were never made, and calls beyond the script', async () => {
    const { fake, client } = setup();
    fake.expect({ argv: [...base, 'send-keys', '-t', '%1', 'Enter'] }, { argv: [...base, 'send-keys', '-t', '%1', 'C-c'] });
    await client.sendKey('%1', 'Enter');
    expect(() => fake.verify()).toThrow(/1 expected tmux call\(s\) never made:\n.*C-c/);
    const extra = setup();
    await expect(extra.client.sendKey('%1', 'Enter')).rejects.toThrow(/unexpected tmux call #1 \(script has 0\)/);
    expect(() => extra.fake.verify()).toThrow(/unexpected tmux call/);
  });

  it('stdin is checked when the expectation names it', async () => {
    const { fake, client } = setup();
    fake.expect({ argv: [...base, 'load-buffer', '-b', /^hornets-/, '-'], input: 'expected text' });
    await expect(client.paste('%2', 'other text', { bracketed: false })).rejects.toBeInstanceOf(UnexpectedTmuxCall);
    expect(() => fake.verify()).toThrow(/expected stdin "expected text", got "other text"/);
  });
});
