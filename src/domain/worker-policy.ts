/**
 * The task workers' policies (seed 003's worker_watcher), pure and table-tested with an injected
 * clock and random source: the retry delay, the circuit breaker of one worker, and its slots.
 *
 * A worker runs its tasks as one-shot agent processes, up to `maxConcurrent` at a time. A failed
 * attempt is retried after INITIAL_RETRY_DELAY × RETRY_BACKOFF^(attempt-1), with jitter, capped. The
 * breaker opens after CIRCUIT_BREAKER_THRESHOLD consecutive failed attempts; after
 * CIRCUIT_BREAKER_TIMEOUT it lets one trial run through (half-open), which closes it on success and
 * opens it again on failure.
 */

export interface WorkerRetryPolicy {
  /** First delay (INITIAL_RETRY_DELAY), ms. */
  initialDelayMs: number;
  /** Multiplier per further attempt (RETRY_BACKOFF), ≥ 1. */
  multiplier: number;
  /** Longest delay, ms. */
  maxDelayMs: number;
  /** Share of the delay that is random, 0–1: 0.2 gives delay × [0.8, 1.0]. */
  jitter: number;
}

export const defaultWorkerRetryPolicy: WorkerRetryPolicy = { initialDelayMs: 1_000, multiplier: 2, maxDelayMs: 300_000, jitter: 0.2 };

/**
 * Delay before the retry that follows `failedAttempts` failed attempts (≥ 1): the first retry waits
 * about initialDelay, the second initialDelay × multiplier, and so on, capped at maxDelay. Jitter
 * only shortens the delay, so the cap holds, and tasks failing together do not retry in lock-step.
 */
export function workerRetryDelayMs(failedAttempts: number, policy: WorkerRetryPolicy, random: () => number): number {
  const exponent = Math.max(0, failedAttempts - 1);
  const raw = policy.initialDelayMs * policy.multiplier ** exponent;
  const capped = Math.min(policy.maxDelayMs, Number.isFinite(raw) ? raw : policy.maxDelayMs);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.max(0, Math.round(capped * (1 - jitter * random())));
}

// ------------------------------------------------------------------ circuit breaker

export const breakerStates = ['closed', 'open', 'half_open'] as const;
export type BreakerStateName = (typeof breakerStates)[number];

/** The gauge values seed 003 gives `watcher_circuit_breaker_state`. */
export const breakerGaugeValue: Record<BreakerStateName, number> = { closed: 0, open: 1, half_open: 2 };

export interface BreakerPolicy {
  /** Consecutive failed attempts that open the breaker (CIRCUIT_BREAKER_THRESHOLD); 0 turns it off. */
  threshold: number;
  /** How long it stays open before a half-open trial (CIRCUIT_BREAKER_TIMEOUT), ms. */
  openMs: number;
  /**
   * A trial taken but bound to no task this long after (its engine died between taking the trial
   * and claiming its task, or found nothing to run) is free again, ms; default 30 s.
   */
  trialClaimMs?: number;
}

const DEFAULT_TRIAL_CLAIM_MS = 30_000;

/** The one half-open trial of a worker, team-wide: who took it and the task it runs. */
export interface BreakerTrial {
  holder: string;
  /** Null between taking the trial and claiming its task. */
  taskId: string | null;
  at: number;
}

/**
 * One worker's breaker. Engines of several nodes share it through the store: each transition
 * below is computed from what the store holds and written back only if nobody changed it
 * meanwhile (src/queue/worker-breaker-swap.ts), so failures count team-wide and one trial runs.
 */
export interface BreakerState {
  state: BreakerStateName;
  /** Consecutive failures, team-wide. */
  failures: number;
  /** When it opened (open), else null. */
  openedAt: number | null;
  /** Half-open: the trial, once an engine took it. */
  trial: BreakerTrial | null;
}

export const closedBreaker: BreakerState = { state: 'closed', failures: 0, openedAt: null, trial: null };

/**
 * The state as of `now`: an open breaker whose timeout has passed is half-open with no trial yet; a
 * trial taken but bound to no task for longer than trialClaimMs is free again.
 */
export function breakerAt(b: BreakerState, policy: BreakerPolicy, now: number): BreakerState {
  if (b.state === 'open' && b.openedAt !== null && now - b.openedAt >= policy.openMs) return { ...b, state: 'half_open', openedAt: null, trial: null };
  if (b.state === 'half_open' && b.trial && b.trial.taskId === null && now - b.trial.at >= (policy.trialClaimMs ?? DEFAULT_TRIAL_CLAIM_MS)) return { ...b, trial: null };
  return b;
}

/** How many new runs an engine may start now with `free` slots: closed all, open none, half-open only the trial it holds. */
export function breakerStartLimit(b: BreakerState, policy: BreakerPolicy, now: number, holder: string, free: number): number {
  const s = breakerAt(b, policy, now);
  switch (s.state) {
    case 'closed':
      return free;
    case 'open':
      return 0;
    case 'half_open':
      return s.trial && s.trial.holder === holder && s.trial.taskId === null ? Math.min(1, free) : 0;
  }
}

/** Half-open with no trial out: `holder` takes the trial; otherwise null (it may not). */
export function breakerTakeTrial(b: BreakerState, policy: BreakerPolicy, now: number, holder: string): BreakerState | null {
  const s = breakerAt(b, policy, now);
  if (s.state !== 'half_open' || s.trial !== null) return null;
  return { ...s, trial: { holder, taskId: null, at: now } };
}

/** The trial `holder` took now runs `taskId` (it stays out until that run ends). */
export function breakerBindTrial(b: BreakerState, holder: string, taskId: string): BreakerState {
  return b.state === 'half_open' && b.trial?.holder === holder && b.trial.taskId === null ? { ...b, trial: { ...b.trial, taskId } } : b;
}

/** `holder` found no task for the trial it took: the trial is free for any engine. */
export function breakerReleaseTrial(b: BreakerState, holder: string): BreakerState {
  return b.state === 'half_open' && b.trial?.holder === holder && b.trial.taskId === null ? { ...b, trial: null } : b;
}

/** A run succeeded: the breaker closes (a half-open trial passed) and the count starts over. */
// A run that started before the breaker opened and ends well while it is open proves the worker
// works too: it closes as after a passed trial.
export function breakerOnSuccess(): BreakerState {
  return closedBreaker;
}

/** A run failed: count it; at the threshold, or on a failed trial, the breaker opens. */
export function breakerOnFailure(b: BreakerState, policy: BreakerPolicy, now: number): BreakerState {
  const s = breakerAt(b, policy, now);
  if (policy.threshold <= 0) return closedBreaker;
  switch (s.state) {
    case 'half_open':
      return { state: 'open', failures: s.failures + 1, openedAt: now, trial: null };
    case 'open':
      // Runs that were already going when it opened: it stays open, its timeout from now.
      return { ...s, failures: s.failures + 1, openedAt: now };
    case 'closed': {
      const failures = s.failures + 1;
      return failures >= policy.threshold ? { state: 'open', failures, openedAt: now, trial: null } : { ...s, failures };
    }
  }
}

/** The run of `taskId` ended neither way (cancelled, lost): if it was the trial, the trial is free. */
export function breakerOnAbandon(b: BreakerState, policy: BreakerPolicy, now: number, taskId: string): BreakerState {
  const s = breakerAt(b, policy, now);
  return s.state === 'half_open' && s.trial?.taskId === taskId ? { ...s, trial: null } : s;
}

/** Same breaker (what the store would keep)? */
export function sameBreaker(a: BreakerState, b: BreakerState): boolean {
  return (
    a.state === b.state &&
    a.failures === b.failures &&
    a.openedAt === b.openedAt &&
    (a.trial === b.trial || (a.trial !== null && b.trial !== null && a.trial.holder === b.trial.holder && a.trial.taskId === b.trial.taskId && a.trial.at === b.trial.at))
  );
}

// ------------------------------------------------------------------ slots

/**
 * A worker's run slots: never more than `max` held at once. Holders are named (the task id), so a
 * release of something not held, or a second release, changes nothing.
 */
export class SlotPool {
  private readonly held = new Set<string>();

  constructor(private max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxConcurrent must be a whole number ≥ 1, got ${max}`);
  }

  get capacity(): number {
    return this.max;
  }

  get inUse(): number {
    return this.held.size;
  }

  get free(): number {
    return Math.max(0, this.max - this.held.size);
  }

  holders(): string[] {
    return [...this.held];
  }

  has(holder: string): boolean {
    return this.held.has(holder);
  }

  /** Takes a slot for `holder`; false when none is free (or it holds one already). */
  tryAcquire(holder: string): boolean {
    if (this.held.has(holder) || this.held.size >= this.max) return false;
    this.held.add(holder);
    return true;
  }

  /**
   * Takes a slot whatever the capacity: a run the engine finds still going after its restart
   * (adopted) holds a slot even when the capacity shrank meanwhile; new runs wait for it.
   */
  adopt(holder: string): void {
    this.held.add(holder);
  }

  release(holder: string): boolean {
    return this.held.delete(holder);
  }

  /** The team changed: a smaller capacity lets running holders finish and starts no new one until below it. */
  resize(max: number): void {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxConcurrent must be a whole number ≥ 1, got ${max}`);
    this.max = max;
  }
}
