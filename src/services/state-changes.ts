/**
 * The engine's agent state changes as a client follows them (issue 17: the console's bell and
 * desktop notifications): the engine's event stream (GET /events through src/engine-client),
 * opened again whenever it ends or no engine answers yet — the console may start before its engine
 * and outlive an engine restart. Only `agent_state` events come through.
 */
import type { Logger } from 'pino';
import type { FeedEvent } from '../domain/agent-events.js';
import { openEventStream, type EventStream } from '../engine-client/event-stream.js';

/** How soon to try again when no engine answers or its stream ended. */
const RETRY_MS = 2000;

export class StateChangeFeed {
  private stream: EventStream | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly stateDir: string,
    private readonly onChange: (e: FeedEvent) => void,
    private readonly log: Logger,
  ) {}

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
    const stream = await openEventStream(this.stateDir, null, (e) => {
      if (e.kind === 'agent_state' && e.agent !== null) this.onChange(e);
    }).catch(() => null);
    if (this.stopped) return stream?.close();
    if (!stream) return this.later();
    this.stream = stream;
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
