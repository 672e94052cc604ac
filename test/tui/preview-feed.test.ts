/**
 * The console's live preview (tui/preview.ts) on a real tmux server (a private socket): a pane that
 * never stops printing is captured a few times a second, not after every burst of output, and the
 * preview still ends on the pane's last line; switching to another pane is not held back by that.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { PanePreviewService } from '../../src/services/preview.js';
import { TmuxClient } from '../../src/tmux/client.js';
import { PreviewFeed } from '../../src/tui/preview.js';
import { TmuxFixture, tmuxOk, waitFor } from '../helpers/tmux.js';

const fx = new TmuxFixture();
afterEach(() => fx.cleanup());

describe('preview feed', () => {
  it('a pane printing every few ms is captured at most every 250 ms; the last line shows; a switch is prompt', async () => {
    const socket = fx.socket();
    const dir = fx.dir('hornets-preview-');
    // A line every 5 ms for about 3 s, then "done" and quiet (one process: no fork per line).
    const program = "let i = 0; const t = setInterval(() => { console.log('tick ' + i++); if (i >= 600) { clearInterval(t); console.log('done'); setTimeout(() => {}, 60000); } }, 5);";
    tmuxOk(socket, ['new-session', '-d', '-s', 'p', '-x', '80', '-y', '20', '--', 'sh', '-c', 'exec sleep 60']);
    const quiet = tmuxOk(socket, ['display-message', '-p', '-t', 'p', '#{pane_id}']).trim();
    const busy = tmuxOk(socket, ['split-window', '-d', '-P', '-F', '#{pane_id}', '-t', 'p', '--', process.execPath, '-e', program]).trim();
    const tmux = new TmuxClient({ server: { socket, configFile: '/dev/null' } });
    const log = createLogger(path.join(dir, 'preview.log'), { level: 'silent' });
    let captures = 0;
    const feed = new PreviewFeed(
      new PanePreviewService({ tmux, session: 'p' }),
      () => captures++,
      () => undefined,
      log,
    );
    try {
      feed.ensureControl();
      await waitFor('the control client', () => feed.live, 5_000);
      const t0 = Date.now();
      feed.show(busy);
      await waitFor('the last line in the preview', () => feed.lines.some((l) => l.includes('done')), 20_000);
      const seconds = (Date.now() - t0) / 1000;
      // Before the cap: a capture every ~30 ms of output (the debounce), 20 and more a second.
      expect(captures).toBeLessThanOrEqual(Math.ceil(seconds / 0.25) + 3);
      expect(captures).toBeGreaterThanOrEqual(2);

      // Output keeps coming from the busy pane only; a switch to the quiet one is captured at once.
      const before = captures;
      feed.show(quiet);
      await waitFor('the quiet pane shown', () => feed.shownPane === quiet && captures > before, 2_000);
    } finally {
      feed.stop();
    }
  });

  it('a pane that drew before the control client attached is captured again once it is attached (nothing printed after is needed)', async () => {
    const socket = fx.socket();
    const dir = fx.dir('hornets-preview-');
    // Prints its prompt only when told (tmux wait-for), then never again.
    tmuxOk(socket, ['new-session', '-d', '-s', 'p', '-x', '80', '-y', '20', '--', 'sh', '-c', 'tmux wait-for draw; echo "agent> ready"; exec sleep 60']);
    const pane = tmuxOk(socket, ['display-message', '-p', '-t', 'p', '#{pane_id}']).trim();
    const tmux = new TmuxClient({ server: { socket, configFile: '/dev/null' } });
    const log = createLogger(path.join(dir, 'preview.log'), { level: 'silent' });
    let captures = 0;
    const feed = new PreviewFeed(
      new PanePreviewService({ tmux, session: 'p' }),
      () => captures++,
      () => undefined,
      log,
    );
    try {
      // The console shows the pane before the agent has drawn: an empty capture.
      feed.show(pane);
      await waitFor('the first capture', () => captures >= 1, 5_000);
      expect(feed.lines.join('')).not.toContain('ready');
      // The agent draws, and only then does the control client attach: that output is never reported.
      tmuxOk(socket, ['wait-for', '-S', 'draw']);
      await waitFor('the prompt on the pane', () => tmuxOk(socket, ['capture-pane', '-p', '-t', pane]).includes('agent> ready'), 5_000);
      feed.ensureControl();
      await waitFor('the prompt in the preview', () => feed.lines.some((l) => l.includes('agent> ready')), 5_000);
    } finally {
      feed.stop();
    }
  });
});
