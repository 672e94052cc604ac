/**
 * What runs for an agent, read from /proc the way a person would check it: every process of this
 * user whose environment carries the agent's HORNETS_HOME and HORNETS_AGENT_ID. Independent of
 * src/proc/agent-processes.ts on purpose: the tests check the product with their own eyes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { waitFor } from './tmux.js';

export interface SeenProcess {
  pid: number;
  agent: string;
  generation: number | null;
  cmd: string;
}

export function agentProcesses(home: string, agent?: string): SeenProcess[] {
  const out: SeenProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0');
      const get = (k: string) => env.find((e) => e.startsWith(`${k}=`))?.slice(k.length + 1);
      const id = get('HORNETS_AGENT_ID');
      if (get('HORNETS_HOME') !== home || !id || (agent !== undefined && id !== agent)) continue;
      // A zombie is gone already: only its parent has not read its status yet.
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      const gen = get('HORNETS_GENERATION');
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0').join(' ').trim();
      out.push({ pid: Number(entry), agent: id, generation: gen === undefined ? null : Number(gen), cmd });
    } catch {
      // exited, or not ours to read
    }
  }
  return out;
}

export const describeProcesses = (list: SeenProcess[]): string => list.map((p) => `${p.pid} ${p.agent} gen ${p.generation ?? '-'}: ${p.cmd.slice(0, 160)}`).join('\n') || '(none)';

/**
 * Waits until nothing matching `which` runs, giving the processes `timeoutMs` to go; fails with
 * the list of those still running.
 */
export async function waitForNone(what: string, which: () => SeenProcess[], timeoutMs = 15_000): Promise<void> {
  await waitFor(what, () => which().length === 0, timeoutMs, 50).catch((err: Error) => {
    throw new Error(`${err.message}\nstill running:\n${describeProcesses(which())}`);
  });
}

/** Cleanup after a test, so a failure does not leave processes on the machine. */
export function killAgentProcesses(home: string): void {
  for (const p of agentProcesses(home)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}
