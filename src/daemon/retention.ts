/**
 * The engine's retention part: prunes the queue once at start and then every `retention.interval`
 * (default 1 h), keeping `retention.maxAge` (default 7 d) of finished history (and of the usage
 * rows that keep a model message from counting twice), and logs what went.
 * The store does the work in small batches, so hooks keep getting the write lock meanwhile.
 */
import type { Logger } from '../log.js';
import type { MessageStore, PruneResult } from '../queue/store.js';
import { durationMs, type HornetsConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { isStaleFence, singleHostDuties, type DutyGate } from './cluster-duties.js';

export interface RetentionOptions {
  store: Pick<MessageStore, 'prune'>;
  retention: Pick<HornetsConfig['retention'], 'maxAge' | 'interval'>;
  log: Logger;
  /** Retention covers the whole team: on a Redis team only the leader prunes (default: always). */
  duties?: DutyGate;
  /** The task workers' run directories of tasks ended before the same cutoff (WorkerPool.pruneRuns). */
  pruneRunDirs?: (olderThanMs: number) => Promise<{ removed: number }>;
  /** Called after every prune (tests, metrics). */
  onPrune?: (result: PruneResult) => void;
}

export class RetentionTimer {
  readonly maxAgeMs: number;
  readonly intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private abort = new AbortController();

  constructor(private readonly o: RetentionOptions) {
    this.maxAgeMs = durationMs(o.retention.maxAge);
    this.intervalMs = durationMs(o.retention.interval);
  }

  /** Does not wait for the first prune: a big one must not hold up the engine's start. */
  async start(): Promise<void> {
    this.abort = new AbortController();
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort();
    await this.running;
  }

  /** One prune; overlapping calls share the one in progress. */
  runOnce(): Promise<void> {
    if (this.running) return this.running;
    const turn = (this.o.duties ?? singleHostDuties).turn();
    // Run directories are this node's own files: every node prunes its own, leader or not.
    if (!turn.run && !this.o.pruneRunDirs) return Promise.resolve();
    this.running = (async () => {
      // First, while the ended tasks' rows are still there to say they ended.
      if (this.o.pruneRunDirs) {
        try {
          const runs = await this.o.pruneRunDirs(this.maxAgeMs);
          if (runs.removed > 0) this.o.log.info({ event: 'run_dirs_pruned', removed: runs.removed, olderThanMs: this.maxAgeMs }, 'old worker run directories removed');
        } catch (err) {
          this.o.log.warn({ event: 'run_dirs_prune_failed', error: errorMessage(err) }, 'removing old worker run directories failed; next try at the next interval');
        }
      }
      try {
        if (!turn.run) return;
        const r = await this.o.store.prune({ olderThanMs: this.maxAgeMs, signal: this.abort.signal, ...(turn.fence ? { fence: turn.fence } : {}) });
        const removed = r.messages + r.events + r.tasks + r.agentEvents + r.usageMessages;
        this.o.log[removed > 0 ? 'info' : 'debug'](
          {
            event: 'queue_pruned',
            messages: r.messages,
            events: r.events,
            tasks: r.tasks,
            agentEvents: r.agentEvents,
            usageMessages: r.usageMessages,
            reclaimedBytes: r.reclaimedBytes,
            ms: r.ms,
            olderThanMs: this.maxAgeMs,
          },
          'old queue history pruned',
        );
        this.o.onPrune?.(r);
      } catch (err) {
        if (isStaleFence(err)) {
          this.o.log.warn(
            { event: 'leader_duty_refused', duty: 'retention', token: turn.run ? turn.fence?.token : undefined },
            'a newer leader was elected: this prune stopped (what it removed before stays removed)',
          );
          return;
        }
        this.o.log.warn({ event: 'queue_prune_failed', error: errorMessage(err) }, 'pruning old queue history failed; next try at the next interval');
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }
}
