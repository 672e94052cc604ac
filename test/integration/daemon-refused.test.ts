/**
 * Defect 1 of issue 9: a second engine start, refused because one runs, must touch nothing that
 * belongs to the owner. It used to delete the running daemon's run/hook-endpoint and write
 * "state":"stopped" into its heartbeat on the way out, so hooks took the slow path and `send` no
 * longer woke the engine. Real processes: a daemon started with `daemon start`, then a second
 * start both ways (`daemon start`, `--headless`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, newProject, TempDirs, type Project } from '../helpers/cli.js';
import { killServer, randomSocket, waitFor } from '../helpers/tmux.js';
import { engineStatus } from '../../src/engine-client/status.js';
import { pingEngine, pokeDaemon } from '../../src/engine-client/poke.js';
import { pidAlive } from '../../src/engine-client/pid.js';

const temp = new TempDirs();
const socket = randomSocket();
let project: Project;

/** Every file the running engine owns, byte for byte. */
function ownerFiles(stateDir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const sub of ['run', 'heartbeats']) {
    for (const f of readdirSync(path.join(stateDir, sub))) files.set(`${sub}/${f}`, readFileSync(path.join(stateDir, sub, f)));
  }
  return files;
}

beforeAll(async () => {
  assertBuilt();
  // Heartbeats every hour: the owner's own beat must not rewrite the files under the test.
  project = await newProject(temp, 'marie', { HORNETS_TMUX_SOCKET: socket, HEARTBEAT_INTERVAL: '1h' });
});

afterAll(async () => {
  await project?.run(['daemon', 'stop']);
  await killServer(socket);
  temp.removeAll();
});

describe('a refused second engine', () => {
  it('is refused with a clear message and leaves the running engine exactly as it was', async () => {
    const first = await project.ok(['daemon', 'start', '--json']);
    const pid = (JSON.parse(first.stdout) as { pid: number }).pid;
    const stateDir = project.stateDir;
    await waitFor('heartbeat written', () => readdirSync(path.join(stateDir, 'heartbeats')).includes('daemon.json'));
    const before = ownerFiles(stateDir);
    expect([...before.keys()]).toEqual(expect.arrayContaining(['run/daemon.pid', 'run/hook-endpoint', 'run/metrics-endpoint', 'heartbeats/daemon.json']));

    for (const args of [['daemon', 'start'], ['--headless'], ['daemon', 'run']]) {
      const r = await project.run(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(`a hornets engine is already running for this project (pid ${pid})`);
      expect(r.stderr).toContain('hornets-tui daemon stop');
      const after = ownerFiles(stateDir);
      expect([...after.keys()].sort(), args.join(' ')).toEqual([...before.keys()].sort());
      for (const [f, bytes] of before) expect(after.get(f)?.equals(bytes), `${f} changed by a refused \`${args.join(' ')}\``).toBe(true);
    }

    // The owner still serves: it answers with its token, takes wake-ups, and is still the engine.
    expect(pidAlive(pid)).toBe(true);
    expect((await pingEngine(stateDir))?.pid).toBe(pid);
    expect(await pokeDaemon(stateDir, '/wake', { agent: 'marie' })).toBe(true);
    expect(engineStatus(stateDir)).toMatchObject({ pid, running: true, endpoint: true });
    const status = await project.run(['daemon', 'status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ pid, running: true, answering: true });
  }, 60_000);
});
