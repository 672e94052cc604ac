/**
 * The processes of an agent generation, found by what they were started with, and ended as a whole.
 *
 * Killing the pane's process is not enough: Gemini CLI re-launches itself as a child Node process
 * whose parent ignores SIGTERM and SIGHUP, agents run tool commands in process groups and sessions
 * of their own, and a killed tmux server leaves whatever ignored its hang-up running, holding the
 * worktree and API connections. Every process of an agent inherits the markers its pane was
 * started with (HORNETS_HOME, HORNETS_AGENT_ID, HORNETS_GENERATION), so /proc tells which are whose.
 *
 * Only processes of this user, with this project's HORNETS_HOME and an agent id, are ever chosen:
 * never by name, never another project's. This process and its ancestors are never chosen either
 * (a command run from inside an agent's pane carries that agent's markers).
 */
import { processEnvironment } from './environ.js';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { AGENT_MARKERS } from '../domain/agent-markers.js';

export interface AgentProcess {
  pid: number;
  agent: string;
  /** HORNETS_GENERATION; null when it is missing or not a number. */
  generation: number | null;
  /** Start time in clock ticks since boot: with the pid, names the process even if the pid is reused later. */
  startTime: string;
}

interface Stat {
  /** The one-letter state (R, S, Z, …). */
  state: string;
  ppid: number;
  startTime: string;
}

/** State, ppid and start time from /proc/<pid>/stat; null when the process is gone. */
function readStat(pid: number): Stat | null {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // "pid (comm) S ppid pgrp session … starttime(22nd)": comm may hold spaces and parentheses.
  const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', ppid: Number(fields[1]), startTime: fields[19] ?? '' };
}

/** This process and every ancestor of it. */
function selfAndAncestors(): Set<number> {
  const out = new Set<number>();
  for (let pid = process.pid; pid > 1 && !out.has(pid);) {
    out.add(pid);
    const stat = readStat(pid);
    if (!stat) break;
    pid = stat.ppid;
  }
  return out;
}

function markersOf(pid: number): Record<string, string> | null {
  return processEnvironment(pid, AGENT_MARKERS);
}

/**
 * Every live process of this user started for an agent of the project whose state directory is
 * `home` (optionally: of one agent only). One pass over /proc: a few milliseconds for a few hundred
 * processes, so it is for stops and restarts, not for every tick.
 */
export function findAgentProcesses(home: string, options: { agent?: string } = {}): AgentProcess[] {
  const uid = process.getuid?.();
  if (uid === undefined) return []; // no /proc, no uids: nothing we could tell apart safely
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const spared = selfAndAncestors();
  const found: AgentProcess[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (spared.has(pid)) continue;
    try {
      if (statSync(`/proc/${pid}`).uid !== uid) continue;
    } catch {
      continue;
    }
    const m = markersOf(pid);
    const agent = m?.HORNETS_AGENT_ID;
    if (!m || !agent || m.HORNETS_HOME !== home) continue;
    if (options.agent !== undefined && agent !== options.agent) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const generation = Number(m.HORNETS_GENERATION);
    found.push({ pid, agent, generation: m.HORNETS_GENERATION && Number.isInteger(generation) ? generation : null, startTime: stat.startTime });
  }
  return found;
}

/** Still the same process (not exited, not a zombie, the pid not taken by another one)? */
function stillRunning(p: AgentProcess): boolean {
  const stat = readStat(p.pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X' && stat.startTime === p.startTime;
}

function signal(p: AgentProcess, sig: NodeJS.Signals): void {
  if (!stillRunning(p)) return;
  try {
    process.kill(p.pid, sig);
  } catch {
    // Gone meanwhile.
  }
}

export interface EndReport {
  /** Processes asked to stop (SIGTERM). */
  terminated: number;
  /** Of those, the ones still running after the grace period (SIGKILL). */
  killed: number;
}

/**
 * SIGTERM to every process, then SIGKILL to whichever is still running after `graceMs`. Resolves
 * as soon as all are gone, and at the latest shortly after the grace period.
 */
export async function endProcesses(list: readonly AgentProcess[], options: { graceMs: number; pollMs?: number }): Promise<EndReport> {
  const running = list.filter(stillRunning);
  for (const p of running) signal(p, 'SIGTERM');
  const deadline = Date.now() + options.graceMs;
  let left = running;
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, options.pollMs ?? 25));
    left = left.filter(stillRunning);
  }
  for (const p of left) signal(p, 'SIGKILL');
  return { terminated: running.length, killed: left.length };
}

/** SIGTERM to a pane's whole process group (tmux makes the pane's first process its leader). */
export function terminateGroup(leader: number): void {
  try {
    process.kill(-leader, 'SIGTERM');
  } catch {
    try {
      process.kill(leader, 'SIGTERM');
    } catch {
      // Gone already.
    }
  }
}
