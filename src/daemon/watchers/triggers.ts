/**
 * Trigger files (the seed systems' `/shared/triggers`): a JSON file dropped in
 * `.hornets/triggers/<agent>/<name>.trigger` becomes a queued message for that agent, then the file
 * is removed; an invalid one moves to `.hornets/dlq/<agent>/<name>` with `<name>.error.json`.
 *
 *   {"message": "run the tests", "priority": "high", "key": "ci-42", "ttl": "1h", "from": "ci"}
 *
 * `text` is accepted for `message`. Write the file under another name and rename it into place.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { Logger } from '../../log.js';
import type { MessageStore } from '../../queue/store.js';
import type { StatePaths } from '../../config/paths.js';
import { errorMessage } from '../../errors.js';
import type { HornetsMetrics } from '../metrics.js';
import { DropDir, type DropFile, type DropOutcome, type WatchSettings, type WatchState } from './drop-dir.js';
import { durationInput, formatIssues, isObject, isPermanentQueueError, messageDefaults, priorityInput, readDuration, readPriority, type WatcherConfig } from './common.js';

export const TRIGGER_SUFFIX = '.trigger';

const triggerSchema = z.object({
  message: z.string({ error: 'must be a string' }).optional(),
  text: z.string({ error: 'must be a string' }).optional(),
  priority: priorityInput.optional(),
  key: z.string().min(1).max(256).optional(),
  ttl: durationInput.optional(),
  from: z.string().min(1).max(128).optional(),
});

export interface TriggerInput {
  body: string;
  priority: number | null;
  key: string | null;
  ttlMs: number | null;
  from: string | null;
}

/** Validates a parsed trigger file; throws an Error whose message is the DLQ reason. */
export function parseTrigger(json: unknown): TriggerInput {
  if (!isObject(json)) throw new Error(`expected a JSON object with "message" (or "text"), got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`);
  const r = triggerSchema.safeParse(json);
  if (!r.success) throw new Error(`wrong fields: ${formatIssues(r.error)}`);
  const t = r.data;
  if (t.message !== undefined && t.text !== undefined) throw new Error('wrong fields: give "message" or "text", not both');
  const body = t.message ?? t.text;
  if (body === undefined) throw new Error(`wrong fields: "message" (or "text") is missing; keys present: ${Object.keys(json).join(', ') || 'none'}`);
  if (body.trim() === '') throw new Error('empty text: "message" has no content');
  return {
    body,
    priority: t.priority === undefined ? null : readPriority(t.priority),
    key: t.key ?? null,
    ttlMs: t.ttl === undefined ? null : readDuration(t.ttl, 'ttl'),
    from: t.from ?? null,
  };
}

export interface TriggerWatcherOptions {
  store: MessageStore;
  paths: Pick<StatePaths, 'triggers' | 'dlq'>;
  config: WatcherConfig;
  log: Logger;
  /** Called after a message was enqueued, so delivery can act at once. */
  wake: (agent: string) => void;
  clock?: () => number;
  metrics?: HornetsMetrics;
  /** Safety-net scan period (default 15 s). */
  scanIntervalMs?: number;
  /** hornets.json `watch`: events (inotify) or poll (network volumes). */
  watch?: WatchSettings;
  maxFileBytes?: number;
}

export class TriggerWatcher {
  private readonly dir: DropDir;
  private readonly log: Logger;

  constructor(private readonly o: TriggerWatcherOptions) {
    this.log = o.log;
    this.dir = new DropDir({
      kind: 'trigger',
      root: o.paths.triggers,
      dlq: o.paths.dlq,
      suffix: TRIGGER_SUFFIX,
      agents: o.config.agents.map((a) => a.name),
      log: o.log,
      clock: o.clock ?? Date.now,
      scanIntervalMs: o.scanIntervalMs,
      ...(o.watch ? { watch: o.watch } : {}),
      maxFileBytes: o.maxFileBytes,
      handle: (f) => this.handle(f),
      onDead: (agent) => o.metrics?.watcherFiles.inc({ kind: 'trigger', agent, outcome: 'dead' }),
    });
  }

  start(): Promise<void> {
    return this.dir.start();
  }

  /** Which watch mode runs (hornets.json `watch`), its scan period and the directories watched. */
  watchState(): WatchState {
    return this.dir.watchState();
  }

  /** The team changed while the engine runs: serve the agents of `config` from now on. */
  setConfig(config: WatcherConfig): Promise<void> {
    this.o.config = config;
    return this.dir.setAgents(config.agents.map((a) => a.name));
  }

  stop(): Promise<void> {
    return this.dir.stop();
  }

  /** One safety-net pass, resolved when every file found was handled (tests call it directly). */
  scan(): Promise<void> {
    return this.dir.scan();
  }

  private async handle(f: DropFile): Promise<DropOutcome> {
    let t: TriggerInput;
    try {
      t = parseTrigger(f.json);
    } catch (err) {
      return { kind: 'dead', error: errorMessage(err) };
    }
    const d = messageDefaults(this.o.config, f.agent);
    // No key given: one derived from this very file, so a crash between enqueue and unlink cannot
    // queue it twice, while a later file of the same name is a new message.
    const key = t.key ?? `trigger:${createHash('sha256').update(`${f.name}\0${f.stat.ino}\0${f.stat.mtimeMs}\0${f.stat.size}`).digest('hex').slice(0, 24)}`;
    try {
      const r = await this.o.store.enqueue({
        agent: f.agent,
        body: t.body,
        priority: t.priority ?? d.priority,
        key,
        ttlMs: t.ttlMs ?? d.ttlMs,
        sender: t.from ?? 'trigger',
        meta: { source: 'trigger', file: f.name },
      });
      this.log.info(
        { event: 'trigger_enqueued', agent: f.agent, file: f.name, id: r.message.id, created: r.created, priority: r.message.priority },
        r.created ? 'trigger file queued' : 'trigger file was already queued (same key)',
      );
      this.o.metrics?.watcherFiles.inc({ kind: 'trigger', agent: f.agent, outcome: 'accepted' });
      if (r.created) this.o.wake(f.agent);
      return { kind: 'done' };
    } catch (err) {
      if (isPermanentQueueError(err)) return { kind: 'dead', error: errorMessage(err) };
      return { kind: 'retry', error: errorMessage(err) };
    }
  }
}
