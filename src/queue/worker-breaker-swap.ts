/**
 * A worker breaker's transitions, atomic across every engine that shares the store (the nodes of a
 * Redis team): the transition is decided by a pure function of domain/worker-policy.ts from what
 * the store holds, and written back only if nobody changed it meanwhile (swapWorkerBreaker, a
 * compare-and-set on the breaker's version, one SQLite transaction or one Redis script); a refused
 * write is decided again from what won. So failures on two nodes count together, and of two
 * engines taking the half-open trial at once exactly one gets it.
 */
import { QueueError } from '../errors.js';
import { closedBreaker, sameBreaker, type BreakerState } from '../domain/worker-policy.js';
import type { SavedBreaker, WorkerTaskStore } from './store.js';

/** Refused swaps before giving up: each refusal means another engine's transition went through. */
const MAX_SWAPS = 50;

/** A breaker as the store holds it, with the version a transition starts from. */
export interface SharedBreaker {
  breaker: BreakerState;
  version: number;
}

export function breakerFromSaved(saved: SavedBreaker | null | undefined): SharedBreaker {
  if (!saved) return { breaker: closedBreaker, version: 0 };
  return { breaker: { state: saved.state, failures: saved.failures, openedAt: saved.openedAt, trial: saved.trial ?? null }, version: saved.version ?? 0 };
}

export async function readWorkerBreaker(store: WorkerTaskStore, worker: string): Promise<SharedBreaker> {
  return breakerFromSaved((await store.workerBreakers()).get(worker));
}

/**
 * Applies `step` to the worker's breaker as the store holds it; `changed` says whether this call's
 * write went through (false: `step` left it as it was, the caller's transition did not apply).
 * `from` (a breaker the caller just read) saves the first read.
 */
export async function transitionWorkerBreaker(
  store: WorkerTaskStore,
  worker: string,
  step: (current: BreakerState) => BreakerState,
  from?: SharedBreaker,
): Promise<SharedBreaker & { changed: boolean }> {
  let cur = from ?? (await readWorkerBreaker(store, worker));
  for (let i = 0; i < MAX_SWAPS; i++) {
    const next = step(cur.breaker);
    if (sameBreaker(next, cur.breaker)) return { ...cur, changed: false };
    const r = await store.swapWorkerBreaker(worker, cur.version, { state: next.state, failures: next.failures, openedAt: next.openedAt, trial: next.trial });
    const now = breakerFromSaved(r.breaker);
    if (r.swapped) return { ...now, changed: true };
    cur = now;
  }
  throw new QueueError('busy', `the breaker of worker ${worker} kept changing under ${MAX_SWAPS} attempts to change it`);
}
