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
}

export interface BreakerState {
  state: BreakerStateName;
  /** Consecutive failures counted while closed. */
  failures: number;
  /** When it opened (open), else null. */
  openedAt: number | null;
  /** A half-open trial run is out. */
  trialRunning: boolean;
}

export const closedBreaker: BreakerState = { state: 'closed', failures: 0, openedAt: null, trialRunning: false };

/** The state as of `now`: an open breaker whose timeout has passed is half-open. */
export function breakerAt(b: BreakerState, policy: BreakerPolicy, now: number): BreakerState {
  if (b.state === 'open' && b.openedAt !== null && now - b.openedAt >= policy.openMs) return { ...b, state: 'half_open', openedAt: null, trialRunning: false };
  return b;
}

/** May a run start now? Closed: yes; open: no; half-open: only the one trial. */
export function breakerAllows(b: BreakerState, policy: BreakerPolicy, now: number): boolean {
  const s = breakerAt(b, policy, now);
  switch (s.state) {
    case 'closed':
      return true;
    case 'open':
      return false;
    case 'half_open':
      return !s.trialRunning;
  }
}

/** A run starts: in half-open it is the trial, and no other may start until it ends. */
export function breakerOnStart(b: BreakerState, policy: BreakerPolicy, now: number): BreakerState {
  const s = breakerAt(b, policy, now);
  return s.state === 'half_open' ? { ...s, trialRunning: true } : s;
}

/**
 * The breaker a new engine starts from: the one saved by the last. A half-open breaker whose trial
 * run the new engine adopted keeps that trial (no second one starts while it runs).
 */
export function breakerRestored(saved: { state: BreakerStateName; failures: number; openedAt: number | null } | undefined, adoptedRuns: number): BreakerState {
  if (!saved) return closedBreaker;
  switch (saved.state) {
    case 'closed':
      return { ...closedBreaker, failures: saved.failures };
    case 'open':
      return { state: 'open', failures: saved.failures, openedAt: saved.openedAt, trialRunning: false };
    case 'half_open':
      return { state: 'half_open', failures: saved.failures, openedAt: null, trialRunning: adoptedRuns > 0 };
  }
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
      return { state: 'open', failures: s.failures + 1, openedAt: now, trialRunning: false };
    case 'open':
      // Runs that were already going when it opened: it stays open, its timeout from now.
      return { ...s, failures: s.failures + 1, openedAt: now };
    case 'closed': {
      const failures = s.failures + 1;
      return failures >= policy.threshold ? { state: 'open', failures, openedAt: now, trialRunning: false } : { ...s, failures };
    }
  }
}

/** A run ended neither way (cancelled by the operator, the engine stopping): a trial slot is freed. */
export function breakerOnAbandon(b: BreakerState, policy: BreakerPolicy, now: number): BreakerState {
  const s = breakerAt(b, policy, now);
  return s.state === 'half_open' ? { ...s, trialRunning: false } : s;
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
