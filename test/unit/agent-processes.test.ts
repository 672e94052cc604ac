/**
 * src/proc/agent-processes.ts on real processes: which are an agent's (markers, home, agent), and
 * ending them (SIGTERM, then SIGKILL after the grace period; a pid whose process changed is never
 * signalled).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { endProcesses, findAgentProcesses } from '../../src/proc/agent-processes.js';
import { waitFor } from '../helpers/tmux.js';
import { compiledPath } from '../helpers/compiled.js';

const started: number[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function home(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'hornets-procs-unit-'));
  dirs.push(d);
  return path.join(d, '.hornets');
}

/** A Node process with `env` added; `stubborn` ignores SIGTERM. Its pid once it said it is up (handler installed). */
async function start(env: Record<string, string>, stubborn = false): Promise<number> {
  const code = `${stubborn ? "process.on('SIGTERM', () => undefined);" : ''} setInterval(() => undefined, 60000); process.stdout.write('up');`;
  const c = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ...env } });
  started.push(c.pid!);
  // Signalled before its handler is in place, a stubborn one would die of SIGTERM (seen under load).
  await new Promise<void>((resolve, reject) => {
    c.stdout.once('data', () => resolve());
    c.once('exit', (code) => reject(new Error(`test process exited (${code}) before it was up`)));
  });
  c.stdout.resume();
  return c.pid!;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('findAgentProcesses', () => {
  it("finds this project's agent processes by their markers, and nothing else", async () => {
    const h = home();
    const mine = await start({ HORNETS_HOME: h, HORNETS_AGENT_ID: 'marie', HORNETS_GENERATION: '3' });
    const other = await start({ HORNETS_HOME: h, HORNETS_AGENT_ID: 'anga', HORNETS_GENERATION: '1' });
    const elsewhere = await start({ HORNETS_HOME: `${h}-other`, HORNETS_AGENT_ID: 'marie', HORNETS_GENERATION: '3' });
    const noAgent = await start({ HORNETS_HOME: h });
    const handMade = await start({ HORNETS_HOME: h, HORNETS_AGENT_ID: 'marie' });
    await waitFor('the processes to exec', () => findAgentProcesses(h).length === 3, 5_000, 20);

    const all = findAgentProcesses(h);
    expect(all.map((p) => p.pid).sort()).toEqual([mine, other, handMade].sort());
    expect(findAgentProcesses(h, { agent: 'marie' }).map((p) => [p.pid, p.generation])).toEqual(
      expect.arrayContaining([
        [mine, 3],
        [handMade, null],
      ]),
    );
    expect(all.some((p) => p.pid === elsewhere || p.pid === noAgent)).toBe(false);
  });

  it('never finds the calling process or its ancestors, though they carry the markers', async () => {
    const h = home();
    const markers = { HORNETS_HOME: h, HORNETS_AGENT_ID: 'marie', HORNETS_GENERATION: '1' };
    const sibling = await start(markers);
    // A command run from inside an agent's pane: a shell of the agent, and the command under it.
    const script = `import(${JSON.stringify(compiledPath('src/proc/agent-processes.ts'))}).then((m) => process.stdout.write(JSON.stringify({ self: process.pid, parent: process.ppid, found: m.findAgentProcesses(process.env.HORNETS_HOME).map((p) => p.pid) })))`;
    const r = spawnSync('sh', ['-c', 'node -e "$1"; :', 'sh', script], { encoding: 'utf8', env: { ...process.env, ...markers } });
    const out = JSON.parse(r.stdout) as { self: number; parent: number; found: number[] };
    expect(out.found).toContain(sibling);
    expect(out.found).not.toContain(out.self);
    expect(out.found).not.toContain(out.parent);
  });
});

describe('endProcesses', () => {
  it('SIGTERM first, SIGKILL to what still runs after the grace period', async () => {
    const h = home();
    const polite = await start({ HORNETS_HOME: h, HORNETS_AGENT_ID: 'marie', HORNETS_GENERATION: '1' });
    const stubborn = await start({ HORNETS_HOME: h, HORNETS_AGENT_ID: 'marie', HORNETS_GENERATION: '1' }, true);
    const found = findAgentProcesses(h);
    expect(found).toHaveLength(2);

    const report = await endProcesses(found, { graceMs: 1_000 });

    expect(report).toEqual({ terminated: 2, killed: 1 });
    await waitFor('both to be reaped', () => !alive(polite) && !alive(stubborn), 5_000, 20);
  });

  it('leaves a pid alone once another process has it (start time differs)', async () => {
    const h = home();
    const pid = await start({ HORNETS_HOME: h, HORNETS_AGENT_ID: 'marie', HORNETS_GENERATION: '1' });
    await waitFor('the process to exec', () => findAgentProcesses(h).length === 1, 5_000, 20);
    const [p] = findAgentProcesses(h);
    const report = await endProcesses([{ ...p!, startTime: '1' }], { graceMs: 100 });
    expect(report).toEqual({ terminated: 0, killed: 0 });
    expect(alive(pid)).toBe(true);
  });
});
