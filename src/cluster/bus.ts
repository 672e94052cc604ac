/**
 * Cross-node wake-ups and control messages.
 *
 * - Wakes (`kind: 'wake'`, "look at your queue now") go over pub/sub to the owning node's channel:
 *   immediate and at most once. One lost while a node is disconnected is harmless only because the
 *   node rescans after a reconnect: `onReconnect` of `subscribe()` tells it when.
 * - Controls (`kind: 'control'`: restart, stop, pause, resume, rebrief) are appended to the node's
 *   stream (XADD, MAXLEN ~ streamMaxLen). The node reads it with XREAD BLOCK from the last id it
 *   handled (kept in memory), on a connection of its own, so a control sent while it was briefly
 *   disconnected (or while Redis restarted with AOF) arrives after the reconnect, once and in order.
 *   A new subscriber starts after the newest entry present (not replaying history) unless it passes
 *   `fromId` (e.g. an id it persisted itself).
 *
 * ioredis needs separate connections for SUBSCRIBE and for a blocking XREAD: the bus makes them with
 * `redis.duplicate()` and closes them on `stop()`. Connection loss never throws out of the bus: ioredis
 * reconnects and resubscribes, the reader retries its XREAD from its last id.
 */
import { type Redis } from 'ioredis';
import { duplicateClient } from '../queue/redis/connect.js';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { checkNodeName, type ClusterKeys } from './keys.js';
import { describeError, sleep } from './lua.js';

export const CONTROL_ACTIONS = ['restart', 'stop', 'pause', 'resume', 'rebrief'] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

const payload = z.record(z.string(), z.unknown());
const busMessageSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('wake'), node: z.string(), agent: z.string().optional(), payload: payload.optional() }),
  z.object({ kind: z.literal('control'), node: z.string(), agent: z.string().optional(), action: z.enum(CONTROL_ACTIONS), payload: payload.optional() }),
]);

export type BusMessage = z.infer<typeof busMessageSchema>;
export type WakeMessage = Extract<BusMessage, { kind: 'wake' }>;
export type ControlMessage = Extract<BusMessage, { kind: 'control' }>;

export interface Delivery {
  via: 'pubsub' | 'stream';
  /** The stream entry id of a control (null for a wake). */
  id: string | null;
}

/** Controls are awaited one at a time, in stream order; a handler that throws is logged, not retried. */
export type BusHandler = (message: BusMessage, delivery: Delivery) => void | Promise<void>;

export interface SubscribeOptions {
  /** Read controls after this stream id (default: after the newest entry present now). */
  fromId?: string;
  /** Called when a connection of this subscription is back after a loss (perhaps twice: one per connection): rescan, wakes may have been lost. */
  onReconnect?: () => void;
}

export interface BusSubscription {
  readonly node: string;
  /** The id of the last control handed to the handler (persist it to resume after a restart). */
  lastId(): string;
  unsubscribe(): Promise<void>;
}

export interface ClusterBusOptions {
  /** Connection for publishing; subscriptions use duplicates of it. */
  redis: Redis;
  keys: ClusterKeys;
  logger?: Logger;
  /** Approximate cap of each node's control stream (default 10,000 entries). */
  streamMaxLen?: number;
  /** XREAD BLOCK timeout (default 5000 ms); only bounds how long one read waits, not latency. */
  blockMs?: number;
  /** Pause before a failed read is retried (default 200 ms). */
  retryMs?: number;
}

interface ChannelEntry {
  node: string;
  handler: BusHandler;
}

export class ClusterBus {
  private readonly redis: Redis;
  private readonly keys: ClusterKeys;
  private readonly log: Logger;
  private readonly streamMaxLen: number;
  private readonly blockMs: number;
  private readonly retryMs: number;
  private subscriber: Redis | null = null;
  private readonly channels = new Map<string, ChannelEntry>();
  private readonly readers = new Set<ControlReader>();
  private readonly reconnectCallbacks = new Set<() => void>();
  private stopped = false;

  constructor(options: ClusterBusOptions) {
    this.redis = options.redis;
    this.keys = options.keys;
    this.log = options.logger ?? silentLogger();
    this.streamMaxLen = options.streamMaxLen ?? 10_000;
    this.blockMs = options.blockMs ?? 5000;
    this.retryMs = options.retryMs ?? 200;
  }

  /** Wakes the owning node now (pub/sub). Resolves the number of subscribers that got it (0: none listening). */
  async wake(node: string, agent?: string, extra?: Record<string, unknown>): Promise<number> {
    return this.publishWake({ kind: 'wake', node, ...(agent !== undefined ? { agent } : {}), ...(extra !== undefined ? { payload: extra } : {}) });
  }

  /** Appends a control for the owning node to its stream; resolves the entry id. */
  async control(node: string, action: ControlAction, agent?: string, extra?: Record<string, unknown>): Promise<string> {
    return this.appendControl({ kind: 'control', node, action, ...(agent !== undefined ? { agent } : {}), ...(extra !== undefined ? { payload: extra } : {}) });
  }

  /** Either kind: a wake is published, a control appended (resolves its id; a wake resolves null). */
  async publish(message: BusMessage): Promise<string | null> {
    if (message.kind === 'wake') {
      await this.publishWake(message);
      return null;
    }
    return this.appendControl(message);
  }

  /** Delivers the wakes and controls of `node` to `handler` until unsubscribed or the bus stops. */
  async subscribe(node: string, handler: BusHandler, options: SubscribeOptions = {}): Promise<BusSubscription> {
    checkNodeName(node);
    if (this.stopped) throw new Error('ClusterBus: stopped');
    const channel = this.keys.wakeChannel(node);
    if (this.channels.has(channel)) throw new Error(`ClusterBus: node "${node}" is already subscribed on this bus`);
    const subscriber = this.ensureSubscriber();
    this.channels.set(channel, { node, handler });
    const reader = new ControlReader({
      redis: this.redis,
      stream: this.keys.controlStream(node),
      node,
      handler,
      blockMs: this.blockMs,
      retryMs: this.retryMs,
      log: this.log,
      onReconnect: options.onReconnect,
    });
    try {
      await (this.redis.isCluster ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel));
      await reader.start(options.fromId);
    } catch (err) {
      this.channels.delete(channel);
      await reader.stop();
      await this.unsubscribeWake(subscriber, channel);
      throw err;
    }
    this.readers.add(reader);
    const wakeReconnect = () => options.onReconnect?.();
    this.reconnectCallbacks.add(wakeReconnect);
    return {
      node,
      lastId: () => reader.lastId,
      unsubscribe: async () => {
        this.reconnectCallbacks.delete(wakeReconnect);
        this.channels.delete(channel);
        this.readers.delete(reader);
        await Promise.all([reader.stop(), this.unsubscribeWake(subscriber, channel)]);
      },
    };
  }

  /** Closes the bus's own connections (not the injected one). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.readers].map((r) => r.stop()));
    this.readers.clear();
    this.channels.clear();
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  private async unsubscribeWake(subscriber: Redis, channel: string): Promise<void> {
    await (this.redis.isCluster ? subscriber.sunsubscribe(channel) : subscriber.unsubscribe(channel)).catch(() => undefined);
  }

  private async publishWake(message: WakeMessage): Promise<number> {
    const m = validate(message);
    const channel = this.keys.wakeChannel(m.node);
    return this.redis.isCluster ? Number(await this.redis.spublish(channel, JSON.stringify(m))) : this.redis.publish(channel, JSON.stringify(m));
  }

  private async appendControl(message: ControlMessage): Promise<string> {
    const m = validate(message);
    const id = await this.redis.xadd(this.keys.controlStream(m.node), 'MAXLEN', '~', this.streamMaxLen, '*', 'm', JSON.stringify(m));
    return id!;
  }

  private ensureSubscriber(): Redis {
    if (this.subscriber) return this.subscriber;
    const sub = duplicateClient(this.redis, { connectionName: `${this.keys.prefix}bus-sub`, maxRetriesPerRequest: null, shardedSubscribers: true });
    sub.on('error', (err: unknown) => this.log.warn({ err: describeError(err) }, 'cluster bus subscriber connection error'));
    // ioredis resubscribes its channels by itself after a reconnect (autoResubscribe).
    sub.on('close', () => this.log.debug('cluster bus subscriber connection closed'));
    // The first 'ready' is the initial connect; later ones follow a reconnect (wakes may have been lost).
    let connectedOnce = false;
    const reconnected = () => {
      if (connectedOnce) for (const cb of this.reconnectCallbacks) safely(cb, this.log, 'cluster bus onReconnect threw');
      connectedOnce = true;
    };
    if (this.redis.isCluster) {
      // ioredis replaces a lost shard subscriber ('+subscriber') and then reports the group ready
      // again; a ready without a replaced subscriber is only a routine slot refresh.
      let replaced = true;
      sub.on('+subscriber', () => (replaced = true));
      sub.on('subscribersReady', () => {
        if (replaced) reconnected();
        replaced = false;
      });
    } else sub.on('ready', reconnected);
    // Redis Cluster: sharded pub/sub (the wake channel is tagged by its node, so one shard carries
    // it and SPUBLISH counts its listeners; a plain PUBLISH would count only one node's).
    sub.on(this.redis.isCluster ? 'smessage' : 'message', (channel: string, raw: string) => {
      const entry = this.channels.get(channel);
      if (!entry) return;
      const message = parse(raw);
      if (!message || message.node !== entry.node) {
        this.log.warn({ node: entry.node }, 'cluster bus: ignored a malformed wake');
        return;
      }
      void Promise.resolve()
        .then(() => entry.handler(message, { via: 'pubsub', id: null }))
        .catch((err: unknown) => this.log.error({ node: entry.node, err: describeError(err) }, 'cluster bus wake handler threw'));
    });
    this.subscriber = sub;
    return sub;
  }
}

/** A message the caller built: a wrong action or shape is the caller's mistake (UsageError). */
function validate<M extends BusMessage>(message: M): M {
  checkNodeName(message.node);
  const r = busMessageSchema.safeParse(message);
  if (!r.success) throw new UsageError(`invalid cluster bus message: ${r.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ')}`);
  return r.data as M;
}

function safely(fn: () => void, log: Logger, what: string): void {
  try {
    fn();
  } catch (err) {
    log.error({ err: describeError(err) }, what);
  }
}

function parse(raw: string): BusMessage | null {
  try {
    const r = busMessageSchema.safeParse(JSON.parse(raw));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

interface ControlReaderOptions {
  redis: Redis;
  stream: string;
  node: string;
  handler: BusHandler;
  blockMs: number;
  retryMs: number;
  log: Logger;
  onReconnect: (() => void) | undefined;
}

/** One node's control stream, read on a connection of its own (XREAD BLOCK holds it). */
class ControlReader {
  lastId = '0-0';
  private conn: Redis | null = null;
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(private readonly o: ControlReaderOptions) {}

  async start(fromId: string | undefined): Promise<void> {
    const conn = duplicateClient(this.o.redis, { connectionName: `${this.o.stream}-reader`, maxRetriesPerRequest: null });
    conn.on('error', (err: unknown) => this.o.log.warn({ node: this.o.node, err: describeError(err) }, 'cluster bus control connection error'));
    this.conn = conn;
    if (fromId !== undefined) this.lastId = fromId;
    else {
      // A concrete id rather than `$`: a control sent after subscribe() resolved is never skipped.
      const newest = await conn.xrevrange(this.o.stream, '+', '-', 'COUNT', 1);
      this.lastId = newest[0]?.[0] ?? '0-0';
    }
    let connectedOnce = false;
    conn.on('ready', () => {
      if (connectedOnce && this.o.onReconnect) safely(this.o.onReconnect, this.o.log, 'cluster bus onReconnect threw');
      connectedOnce = true;
    });
    if (conn.status === 'ready') connectedOnce = true;
    this.running = true;
    this.loop = this.run(conn);
  }

  async stop(): Promise<void> {
    this.running = false;
    // Rejects the pending XREAD BLOCK, which ends the loop.
    this.conn?.disconnect();
    await this.loop;
    this.conn = null;
  }

  private async run(conn: Redis): Promise<void> {
    while (this.running) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = (await conn.xread('COUNT', 100, 'BLOCK', this.o.blockMs, 'STREAMS', this.o.stream, this.lastId)) as [string, [string, string[]][]][] | null;
      } catch (err) {
        if (!this.running) return;
        this.o.log.warn({ node: this.o.node, err: describeError(err) }, 'cluster bus: control read failed, retrying');
        await sleep(this.o.retryMs);
        continue;
      }
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          if (!this.running) return;
          this.lastId = id;
          const message = parse(fieldValue(fields, 'm') ?? '');
          if (!message || message.kind !== 'control' || message.node !== this.o.node) {
            this.o.log.warn({ node: this.o.node, id }, 'cluster bus: skipped a malformed control entry');
            continue;
          }
          try {
            await this.o.handler(message, { via: 'stream', id });
          } catch (err) {
            this.o.log.error({ node: this.o.node, id, err: describeError(err) }, 'cluster bus control handler threw');
          }
        }
      }
    }
  }
}

function fieldValue(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
