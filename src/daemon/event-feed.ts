/**
 * The engine's event stream (issue 17): `GET /events` on the hook server streams, one JSON object
 * per line, every event the store records for the team's agents from the moment of subscribing —
 * state changes, deliveries, confirmations, restarts, limits. Event-driven: the engine pokes the
 * feed when something happened to an agent (a hook, a wake, a state change, a delivery pass) and
 * the feed reads that agent's newest events once for all subscribers. With no subscriber a poke
 * costs nothing.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { MessageStore } from '../queue/store.js';
import { eventKey, feedEvent, type FeedEvent } from '../domain/agent-events.js';

/** Newest events read per agent per poke: more than this between two pokes of one agent are skipped. */
const READ_LIMIT = 200;

interface Subscriber {
  res: ServerResponse;
  agent: string | null;
}

export interface EventFeedOptions {
  store: MessageStore;
  /** The engine's agents (its node's share of a Redis team). */
  agents: () => string[];
  log: Logger;
}

export class EventFeed {
  private readonly subscribers = new Set<Subscriber>();
  /** Per agent: the keys of its newest events as last read; what is not among them is new. */
  private readonly seen = new Map<string, Set<string>>();
  private readonly due = new Set<string>();
  private flushing: Promise<void> | null = null;
  private again = false;

  constructor(private readonly o: EventFeedOptions) {}

  /** A client subscribes: from now on it gets the events of `agent` (null: every agent). */
  async subscribe(res: ServerResponse, agent: string | null): Promise<void> {
    // What is in the store now is history (the client reads that itself): only what comes after is
    // sent. A read also brings the subscribers already there what they have not had yet (pokes with
    // no subscriber read nothing, so an agent's last read may be old).
    const fresh: FeedEvent[] = [];
    for (const a of agent === null ? this.o.agents() : [agent]) fresh.push(...(await this.read(a)));
    this.deliver(fresh);
    const sub: Subscriber = { res, agent };
    this.subscribers.add(sub);
    res.once('close', () => this.subscribers.delete(sub));
    res.write(`${JSON.stringify({ ready: true })}\n`);
  }

  /** Something happened to `agent` (null: maybe to any). */
  poke(agent: string | null): void {
    if (this.subscribers.size === 0) return;
    for (const a of agent === null ? this.o.agents() : [agent]) this.due.add(a);
    if (this.flushing) {
      this.again = true;
      return;
    }
    this.flushing = this.flush()
      .catch((err: unknown) => this.o.log.warn({ event: 'event_feed_failed', error: String(err) }, 'could not read events for the stream'))
      .finally(() => {
        this.flushing = null;
        if (this.again) {
          this.again = false;
          this.poke(null);
        }
      });
  }

  /** The engine stops: every stream ends, so clients know. */
  close(): void {
    for (const s of this.subscribers) s.res.end();
    this.subscribers.clear();
  }

  private async flush(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    const agents = [...this.due];
    this.due.clear();
    const fresh: FeedEvent[] = [];
    for (const a of agents) fresh.push(...(await this.read(a)));
    this.deliver(fresh);
  }

  private deliver(fresh: FeedEvent[]): void {
    if (fresh.length === 0) return;
    fresh.sort((x, y) => x.ts - y.ts);
    for (const s of this.subscribers) {
      const lines = fresh.filter((e) => s.agent === null || e.agent === s.agent).map((e) => `${JSON.stringify(e)}\n`);
      if (lines.length > 0) s.res.write(lines.join(''));
    }
  }

  /** Reads one at a time: two reads of an agent finishing out of order would set its seen keys back. */
  private reads: Promise<unknown> = Promise.resolve();

  private read(agent: string): Promise<FeedEvent[]> {
    const next = this.reads.then(() => this.readNow(agent));
    this.reads = next.catch(() => undefined);
    return next;
  }

  /** The agent's events not seen at its last read (none at its first: that is history). */
  private async readNow(agent: string): Promise<FeedEvent[]> {
    const events = (await this.o.store.events({ agent, limit: READ_LIMIT })).map(feedEvent);
    const before = this.seen.get(agent);
    this.seen.set(agent, new Set(events.map(eventKey)));
    return before ? events.filter((e) => !before.has(eventKey(e))) : [];
  }
}
