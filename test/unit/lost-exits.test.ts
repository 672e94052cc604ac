/**
 * An exit tmux missed (tmux 3.3a loses a pane process's SIGCHLD now and then: no status, no
 * pane-died hook) is seen from /proc as a zombie and handed to recovery within a look, without
 * waiting for the reconciliation round. Real processes: a zombie is a child whose parent never
 * waits for it (`sh` exec'd into `sleep` leaves its background child unreaped).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { processState, ProcessStateReader } from '../../src/proc/process-state.js';
import { LostExitWatch } from '../../src/daemon/lost-exits.js';
import type { CrashReport } from '../../src/recovery/recovery.js';
import type { AgentRecord } from '../../src/domain/agent.js';
import { waitFor } from '../helpers/tmux.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A process that becomes a zombie at once and stays one while its parent lives. */
async function zombie(): Promise<number> {
  const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(parent);
  const pid = await new Promise<number>((resolve) => parent.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))));
  await waitFor('the child to exit unreaped', () => processState(pid) === 'zombie');
  return pid;
}

function alive(): number {
  const c = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(c);
  return c.pid!;
}

function record(name: string, paneId: string | null, generation: number, state: AgentRecord['state'] = 'idle'): AgentRecord {
  return { name, paneId, generation, state } as AgentRecord;
}

describe('processState', () => {
  it('tells a running process, a zombie and a pid that is gone apart', async () => {
    expect(processState(process.pid)).toBe('running');
    expect(processState(await zombie())).toBe('zombie');
    expect(processState(2 ** 22 + 12345)).toBe('gone');
  });
});

describe('ProcessStateReader', () => {
  const openFds = () => readdirSync('/proc/self/fd').length;

  it('gives the same answers as processState, keeps one file per watched pid and closes the others', async () => {
    const reader = new ProcessStateReader();
    const before = openFds();
    const z = await zombie();
    const living = alive();
    for (let i = 0; i < 3; i++) {
      expect(reader.state(living)).toBe('running');
      expect(reader.state(z)).toBe('zombie');
      expect(reader.state(2 ** 22 + 12345)).toBe('gone');
    }
    expect(openFds() - before).toBe(2);
    reader.retainOnly(new Set([z]));
    expect(openFds() - before).toBe(1);
    reader.closeAll();
    expect(openFds() - before).toBe(0);
    // after closeAll it still answers, without holding anything
    expect(reader.state(living)).toBe('running');
    expect(openFds() - before).toBe(0);
  });

  it('says gone once the process it holds is reaped, even though its file was opened while it lived', async () => {
    const reader = new ProcessStateReader();
    const c = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = c.pid!;
    expect(reader.state(pid)).toBe('running');
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGKILL');
    await exited; // node has reaped it
    expect(reader.state(pid)).toBe('gone');
    reader.closeAll();
  });
});

describe('LostExitWatch', () => {
  it('reports the pane of an agent whose process is a zombie, on every look until it is reaped; living, stopped and pane-less agents are left alone', async () => {
    const dead = await zombie();
    const living = alive();
    const agents = [record('marie', '%1', 3), record('bob', '%2', 1), record('ann', '%3', 1, 'stopped'), record('joe', null, 0)];
    const pids: Record<string, number> = { '%1': dead, '%2': living, '%3': dead };
    let listings = 0;
    let reads = 0;
    const clock = { t: 0 };
    const reports: CrashReport[] = [];
    const watch = new LostExitWatch({
      now: () => clock.t,
      agentsEveryMs: 5_000,
      agents: () => {
        reads++;
        return Promise.resolve(agents);
      },
      listPanes: () => {
        listings++;
        return Promise.resolve(Object.entries(pids).map(([paneId, pid]) => ({ paneId, pid, dead: false })));
      },
      processState,
      report: (r) => reports.push(r),
    });
    await watch.tick();
    await watch.tick();
    expect(reports).toEqual([
      { paneId: '%1', generation: 3, exitStatus: null, source: 'lost-exit' },
      { paneId: '%1', generation: 3, exitStatus: null, source: 'lost-exit' },
    ]);
    // Pids are learnt once per pane and generation, not asked of tmux on every look; the agents
    // are read from the store at most every 5 s.
    expect(listings).toBe(1);
    expect(reads).toBe(1);
    // A restart in the same pane is a new process: learnt anew at the next read of the agents.
    agents[0] = record('marie', '%1', 4);
    pids['%1'] = alive();
    reports.length = 0;
    clock.t += 5_000;
    await watch.tick();
    expect(reads).toBe(2);
    expect(listings).toBe(2);
    expect(reports).toEqual([]);
  });

  it('a pane tmux already lists dead (or not at all) is not watched and not listed again', async () => {
    let listings = 0;
    const reports: CrashReport[] = [];
    const watch = new LostExitWatch({
      agents: () => Promise.resolve([record('marie', '%1', 1), record('bob', '%9', 1)]),
      listPanes: () => {
        listings++;
        return Promise.resolve([{ paneId: '%1', pid: process.pid, dead: true }]);
      },
      processState: () => 'zombie',
      report: (r) => reports.push(r),
    });
    await watch.tick();
    await watch.tick();
    expect(listings).toBe(1);
    expect(reports).toEqual([]);
  });
});
