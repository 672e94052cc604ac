/**
 * The tmux side of worker runs (daemon/workers/run-windows.ts) against a real tmux server: a run's
 * window opens whatever state the worker's session and the server are in at that moment.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { killServer, listPanes, randomSocket, tmuxOk } from '../helpers/tmux.js';
import { TmuxClient } from '../../src/tmux/client.js';
import { tmuxConfig } from '../../src/services/agents.js';
import { TmuxRunWindows } from '../../src/daemon/workers/run-windows.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

it("opens a run's window on a server left with no session (the last run window just went, the server not yet gone)", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-run-windows-'));
  const socket = randomSocket();
  const configFile = join(dir, 'tmux.conf');
  writeFileSync(configFile, tmuxConfig());
  const tmux = new TmuxClient({ server: { socket, configFile } });
  cleanups.push(async () => {
    await tmux.close();
    await killServer(socket);
    rmSync(dir, { recursive: true, force: true });
  });
  // A server with no session at all answers any targeted command "no current target" (tmux 3.3),
  // as it does for a moment after the last window of the last session closed.
  tmuxOk(socket, ['-f', configFile, 'start-server', ';', 'set-option', '-g', 'exit-empty', 'off']);
  expect(listPanes(socket)).toEqual([]);
  const windows = new TmuxRunWindows(tmux, 'hornets');
  const pane = await windows.open('fab', 'r1.a1', { argv: ['sleep', '30'], cwd: dir });
  expect(pane).toMatch(/^%\d+$/);
  expect([...(await windows.live('fab'))]).toEqual(['r1.a1']);
});
