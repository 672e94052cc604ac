/**
 * Issue 9, defect 8: message text reached a terminal raw. The demo agent printed message bodies as
 * they were, and an OSC 2 title sequence inside a message retitled the agent's tmux pane. Real tmux:
 * a message full of escapes is delivered through the agent's UserPromptSubmit hook; the pane title
 * must stay as it was and the text must appear with its control characters made visible.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, capture, initGitRepo, lastLine, tmux, tmuxOk, waitFor } from '../helpers/tmux.js';

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
});

const TITLE = 'pwned-by-a-message';
const BODY = `before \x1b]2;${TITLE}\x07 middle \x1b]0;${TITLE}\x1b\\ clear\x1b[2J\x1b[H red\x1b[31mRED\x1b[0m bell\x07 cr\rX after`;

describe('the demo agent prints message text inert', () => {
  it('an OSC title sequence in a message does not retitle the pane; escapes show as visible characters', async () => {
    const dir = fx.dir('hornets-escapes-');
    initGitRepo(dir);
    const socket = fx.socket();
    const p = new Project(dir, { HORNETS_TMUX_SOCKET: socket, TMUX: undefined, TMUX_PANE: undefined });
    await p.ok(['init', '--agents', 'marie']);
    fx.defer(() => p.run(['daemon', 'stop']));
    await p.ok(['up', '--no-engine']);
    const pane = (JSON.parse((await p.ok(['status', '--json'])).stdout) as { name: string; paneId: string }[])[0]!.paneId;
    await waitFor('demo> prompt', () => lastLine(capture(socket, pane)) === 'demo>', 20_000);
    const title = () => tmuxOk(socket, ['display-message', '-p', '-t', pane, '#{pane_title}']).trim();
    const before = title();
    expect(before).not.toBe(TITLE);

    await p.ok(['send', 'marie', '-'], { input: BODY });
    // A prompt typed by hand: its UserPromptSubmit hook hands the queued message over.
    expect(tmux(socket, ['send-keys', '-t', pane, '-l', 'go']).code).toBe(0);
    expect(tmux(socket, ['send-keys', '-t', pane, 'Enter']).code).toBe(0);
    const transcript = path.join(dir, '.hornets', 'demo', 'marie.jsonl');
    // The agent got the body byte for byte (what it shows is another matter).
    await waitFor(
      'message in the transcript',
      () => {
        try {
          return readFileSync(transcript, 'utf8').includes(JSON.stringify(BODY).slice(1, -1));
        } catch {
          return false;
        }
      },
      20_000,
    );
    await waitFor('turn finished', () => lastLine(capture(socket, pane)) === 'demo>', 20_000);

    expect(title()).toBe(before);
    const screen = capture(socket, pane);
    expect(screen).toContain(`before ␛]2;${TITLE}␇ middle ␛]0;${TITLE}␛\\ clear␛[2J␛[H red␛[31mRED␛[0m bell␇ cr␍X after`);
    // The clear-screen did not run: the banner is still on the screen.
    expect(screen).toMatch(/demo agent marie/);
  }, 90_000);
});
