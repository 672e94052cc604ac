/**
 * The idle nudge's typing (`typeNudge`) on real tmux: one look, the line typed literally, Enter
 * only once the line is on screen — never because an older nudge is still visible — and refusals
 * at a permission prompt, while busy and on a dead pane, with nothing typed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PushFailed, PushRefused, typeNudge } from '../../src/services/push.js';
import { TmuxClient } from '../../src/tmux/client.js';
import type { PanePatterns } from '../../src/domain/pane-state.js';
import { TmuxFixture, capture, tmuxOk, waitFor } from '../helpers/tmux.js';

const fx = new TmuxFixture();
afterEach(async () => {
  await fx.cleanup();
});

const patterns: PanePatterns = { idle: ['^> ?$'], busy: ['working\\.\\.\\.'], permission: ['Do you want to proceed'], error: [], liveLines: 1 };

/** A private server whose one pane runs `script` under sh; returns the client and the pane id. */
async function paneRunning(script: string): Promise<{ tmux: TmuxClient; pane: string; socket: string }> {
  const socket = fx.socket();
  const dir = fx.dir('hornets-nudge-');
  // remain-on-exit before the pane starts: a pane that exits at once must stay, dead, to be looked at.
  tmuxOk(socket, ['-f', '/dev/null', 'start-server', ';', 'set-option', '-g', 'remain-on-exit', 'on', ';', 'new-session', '-d', '-s', 'n', '-x', '200', '-y', '50', '-c', dir, 'sh', '-c', script]);
  const pane = tmuxOk(socket, ['display-message', '-p', '-t', 'n:', '#{pane_id}']).trim();
  return { tmux: new TmuxClient({ server: { socket, configFile: '/dev/null' } }), pane, socket };
}

const OLD = '1 new message from hornets: in your context, please act on it. [hornets:0000aaaa1111]';
const NEW_TAG = '[hornets:2222bbbb3333]';
const NEW = `1 new message from hornets: in your context, please act on it. ${NEW_TAG}`;

describe('typeNudge on real tmux', () => {
  it('types the line, waits for it to be drawn, then presses Enter as a key of its own', async () => {
    // A prompt that reads one line and prints what it got: Enter must have arrived as a line end.
    const { tmux, pane, socket } = await paneRunning(`printf '> '; read -r line; printf 'GOT<%s>\\n' "$line"; sleep 60`);
    await waitFor('the prompt', () => capture(socket, pane).includes('>'));
    const r = await typeNudge(tmux, pane, NEW, NEW_TAG, { patterns });
    expect(r.ms).toBeGreaterThanOrEqual(0);
    await waitFor('the line read by the program', () => capture(socket, pane).includes(`GOT<${NEW}>`));
  });

  it('an older nudge still on screen does not count as the new one drawn: Enter is not pressed', async () => {
    // The old nudge is in the transcript; the program then stops echoing, so the new line never shows.
    const { tmux, pane, socket } = await paneRunning(`printf '%s\\n' '${OLD}'; stty -echo; printf '> '; read -r line; printf 'GOT<%s>\\n' "$line"; sleep 60`);
    await waitFor('the old nudge and the prompt', () => capture(socket, pane).includes('> '));
    const err = await typeNudge(tmux, pane, NEW, NEW_TAG, { patterns, arrivalTimeoutMs: 400 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushFailed);
    expect(String((err as Error).message)).toMatch(/did not appear.*Enter was not pressed/);
    // Enter was never sent: the program is still waiting for its line.
    expect(capture(socket, pane)).not.toContain('GOT<');
  });

  it('refuses a permission prompt, a busy screen and a dead pane, typing nothing', async () => {
    // The question is the live line (CLIs draw their dialogs in place of the input line; an input
    // line below a question would mean it is old output).
    const perm = await paneRunning(`printf 'Do you want to proceed? '; stty -echo; cat > /dev/null`);
    await waitFor('the permission prompt', () => capture(perm.socket, perm.pane).includes('proceed'));
    await expect(typeNudge(perm.tmux, perm.pane, NEW, NEW_TAG, { patterns })).rejects.toMatchObject({ reason: 'permission' });

    const busy = await paneRunning(`printf 'working...'; sleep 60`);
    await waitFor('the busy line', () => capture(busy.socket, busy.pane).includes('working'));
    await expect(typeNudge(busy.tmux, busy.pane, NEW, NEW_TAG, { patterns })).rejects.toMatchObject({ reason: 'busy' });
    expect(capture(busy.socket, busy.pane)).not.toContain('hornets:');

    const dead = await paneRunning('exit 3');
    await waitFor('the pane to die', () => tmuxOk(dead.socket, ['display-message', '-p', '-t', dead.pane, '#{pane_dead}']).trim() === '1');
    const e = await typeNudge(dead.tmux, dead.pane, NEW, NEW_TAG, { patterns }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PushRefused);
    expect((e as PushRefused).reason).toBe('dead');
  });

  it('refuses lines tmux could read as a flag or a command separator', async () => {
    const { tmux, pane } = await paneRunning('sleep 60');
    for (const bad of ['-t evil', 'ends with ;', 'two\nlines', '']) {
      await expect(tmux.typeLiteral(pane, bad)).rejects.toThrow(/not a line tmux can type literally/);
    }
  });
});
