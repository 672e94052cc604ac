/**
 * Who runs the cluster-wide duties (issue 12): the store sweep (lease reclaim, TTL expiry,
 * dead-lettering) and retention touch every agent of the team, so on a Redis team only the elected
 * leader runs them, each run fenced with its token (a deposed leader's run is refused by the store
 * and writes nothing). A single host (SQLite) has no election: its engine runs them unfenced, as
 * before. Node-local work (tmux, nudges, restarts, its own agents' tasks) never asks.
 */
import type { DutyFence } from '../queue/store.js';
import { QueueError } from '../errors.js';

/** A duty's turn: run it (fenced on a Redis team), or skip it (this node does not lead). */
export type DutyTurn = { run: true; fence?: DutyFence } | { run: false };

export interface DutyGate {
  turn(): DutyTurn;
}

/**
 * The policy: a single host always runs its duties unfenced; a node of a Redis team runs them only
 * while it leads, with the fence of its term.
 */
export function dutyTurn(team: 'single-host' | 'cluster', fence: DutyFence | null): DutyTurn {
  if (team === 'single-host') return { run: true };
  return fence ? { run: true, fence } : { run: false };
}

export const singleHostDuties: DutyGate = { turn: () => dutyTurn('single-host', null) };

/** The store refused a duty's write: a newer leader exists, this run was void. */
export function isStaleFence(err: unknown): boolean {
  return err instanceof QueueError && err.code === 'stale_fence';
}
