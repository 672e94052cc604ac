/**
 * The engine's agent state changes as a client follows them (issue 17: the console's bell and
 * desktop notifications): the engine's event stream (GET /events through src/engine-client),
 * opened again whenever it ends or no engine answers yet — the console may start before its engine
 * and outlive an engine restart. Only `agent_state` and `over_budget` events (the budget policy paused
 * an agent: it needs the user too) come through. Each time the stream opens
 * (it carries only what happens from then on), the changes since the last one seen (at first: since
 * this feed was made) are read from the event log, so a change made while no stream was open, as
 * the console starts or the engine restarts, is not missed; each change comes through once.
 */
import type { Logger } from 'pino';
import { eventKey, feedEvent, type FeedEvent } from '../domain/agent-events.js';
import type { MessageStore } from '../queue/store.js';
import { openEventStream, type EventStream } from '../engine-client/event-stream.js';

/** How soon to try again when no engine answers or its stream ended. */
const RETRY_MS = 2000;

/** Newest state changes read per agent when a stream opens. */
const CATCH_UP_LIMIT = 20;

/** The events this feed passes on. */
const KINDS = ['agent_state', 'over_budget'];

export class StateChangeFeed {
  private stream: EventStream | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Changes from here on are told; moves with each change seen. */
  private since = Date.now();
  /** Keys of the changes told at `since` or later (a change can come from the log and the stream). */
  private told = new Set<string>();

  constructor(
    private readonly stateDir: string,
    private readonly onChange: (e: FeedEvent) => void,
    private readonly log: Logger,
    private readonly history?: { store: Pick<MessageStore, 'events'>; agents: () => string[] },
  ) {}

  private tell(e: FeedEvent): void {
    if (!KINDS.includes(e.kind) || e.agent === null || e.ts < this.since) return;
    const key = eventKey(e);
    if (this.told.has(key)) return;
    if (e.ts > this.since) {
      this.since = e.ts;
      this.told = new Set();
    }
    this.told.add(key);
    this.onChange(e);
  }

  private async catchUp(): Promise<void> {
    if (!this.history) return;
    const found: FeedEvent[] = [];
    for (const agent of this.history.agents()) {
      const rows = await this.history.store.events({ agent, kinds: KINDS, limit: CATCH_UP_LIMIT }).catch(() => []);
      found.push(...rows.map(feedEvent).filter((e) => e.ts >= this.since));
    }
    for (const e of found.sort((x, y) => x.ts - y.ts)) this.tell(e);
  }

  start(): void {
    void this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.stream?.close();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    // Changes arriving on the stream while the log is read wait, so they are told in order after it.
    let held: FeedEvent[] | null = [];
    const stream = await openEventStream(this.stateDir, null, (e) => {
      if (held) held.push(e);
      else this.tell(e);
    }).catch(() => null);
    if (this.stopped) return stream?.close();
    if (!stream) return this.later();
    this.stream = stream;
    await this.catchUp();
    const early = held;
    held = null;
    for (const e of early) this.tell(e);
    this.log.debug({ event: 'state_feed_open' }, "following the engine's state changes");
    void stream.ended.then(() => {
      this.stream = null;
      this.later();
    });
  }

  private later(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.open();
    }, RETRY_MS);
    this.timer.unref?.();
  }
}
