/**
 * The issue's anchor for bench:redis, "the raw client doing the same commands": every command the
 * store sends during one operation is recorded (at ioredis' sendCommand, so nothing the store
 * does is missed), and a plain ioredis client sends exactly those commands, in the same order and
 * one round trip each as the store did, to a second redis-server of the same kind that has seen
 * the same history. The ratio store / replay is then what the store itself costs on top of its
 * Redis work (its JavaScript, encoding, awaits); the minimal queue of raw-redis-queue.ts stays
 * beside it as the stricter anchor (a queue without the store's guarantees).
 */
import { Redis, type Command } from 'ioredis';
import { COMMIT_SCRIPT } from '../../src/queue/redis/commit.js';
import { CLAIM_SCRIPT, ENQUEUE_SCRIPT, RESERVE_SCRIPT, SETTLE_SCRIPT } from '../../src/queue/redis/scripts.js';

type Args = (string | Buffer | number)[];

/** Connection chatter (ready checks, names, subscriptions): not part of an operation's work. */
const CONNECTION_COMMANDS = new Set(['info', 'client', 'hello', 'auth', 'select', 'ping', 'quit', 'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'script']);

interface Recorded {
  name: string;
  args: Args;
  /** What the store's server answered, to check the second server answers the same. */
  reply?: string;
}

export class CommandReplay {
  private recording: Recorded[] | null = null;
  /** One entry per recorded operation, replayed in order. */
  private readonly pending: Recorded[][] = [];
  private readonly client: Redis;
  private readonly restore: () => void;

  private constructor(url: string) {
    this.client = new Redis(url, { lazyConnect: false, enableAutoPipelining: false, maxRetriesPerRequest: 1 });
    const replayClient = this.client;
    const original = Redis.prototype.sendCommand;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the patched method needs both `this`es
    const self = this;
    Redis.prototype.sendCommand = function (this: Redis, command: Command, stream?: Parameters<typeof original>[1]) {
      if (self.recording && this !== replayClient && !CONNECTION_COMMANDS.has(command.name.toLowerCase())) {
        const r: Recorded = { name: command.name, args: [...(command.args as Args)] };
        self.recording.push(r);
        command.promise.then(
          (v) => (r.reply = JSON.stringify(v)),
          () => undefined,
        );
      }
      return original.call(this, command, stream);
    };
    this.restore = () => {
      Redis.prototype.sendCommand = original;
    };
  }

  /** A replay client on `url` (the second server), with the store's scripts loaded there. */
  static async open(url: string): Promise<CommandReplay> {
    const r = new CommandReplay(url);
    for (const lua of [COMMIT_SCRIPT, ENQUEUE_SCRIPT, CLAIM_SCRIPT, SETTLE_SCRIPT, RESERVE_SCRIPT]) await r.client.script('LOAD', lua);
    return r;
  }

  /** Runs `op` (the store's), recording what it sends; the record waits for `replayNext`. */
  async record<T>(op: () => Promise<T>): Promise<T> {
    const cmds: Recorded[] = [];
    this.recording = cmds;
    try {
      return await op();
    } finally {
      this.recording = null;
      this.pending.push(cmds);
    }
  }

  /** The oldest recorded operation, sent by the plain client one command per round trip. */
  async replayNext(): Promise<void> {
    const cmds = this.pending.shift();
    if (!cmds) throw new Error('nothing recorded to replay');
    for (const c of cmds) {
      const reply = await this.client.call(c.name, ...c.args);
      this.replayed++;
      if (c.reply !== undefined && JSON.stringify(reply) !== c.reply) this.differed++;
    }
  }

  /** Commands replayed, and how many of them the second server answered differently. */
  replayed = 0;
  differed = 0;

  /** Replays everything recorded so far (set-up: the second server gets the same history, untimed). */
  async catchUp(): Promise<void> {
    while (this.pending.length > 0) await this.replayNext();
  }

  get waiting(): number {
    return this.pending.length;
  }

  async close(): Promise<void> {
    this.restore();
    await this.client.quit().catch(() => undefined);
  }
}
