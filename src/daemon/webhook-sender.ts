/**
 * The webhook channel of notifications (issue 17): POSTs JSON bodies to hornets.json
 * `notify.webhook.url`, one at a time in order, each with a timeout and retries with doubling
 * backoff. `send` only queues: the engine never waits for a receiver. The queue is bounded; while
 * the receiver is down for long the oldest waiting bodies are dropped and counted. The URL may carry
 * a token (Slack's do): logs name its origin only.
 */
import type { Logger } from 'pino';

export interface WebhookSenderOptions {
  url: string;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  queueMax: number;
  log: Logger;
  /** Waits between retries (tests shorten nothing: they configure short backoffs). */
  sleep?: (ms: number) => Promise<void>;
}

/** `https://hooks.slack.com/…`: scheme and host, never the path or query that may hold a token. */
export function redactWebhookUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(invalid URL)';
  }
}

export interface WebhookStats {
  sent: number;
  failed: number;
  dropped: number;
  queued: number;
}

export class WebhookSender {
  private readonly queue: string[] = [];
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly where: string;
  private readonly stats = { sent: 0, failed: 0, dropped: 0 };
  /** Dropped since the last log line about drops. */
  private droppedUnlogged = 0;
  private readonly current = new Set<AbortController>();

  constructor(private readonly o: WebhookSenderOptions) {
    this.where = redactWebhookUrl(o.url);
  }

  /** Queues a body; returns at once. */
  send(body: unknown): void {
    if (this.stopped) return;
    this.queue.push(JSON.stringify(body));
    if (this.queue.length > this.o.queueMax) {
      this.queue.shift();
      this.stats.dropped++;
      this.droppedUnlogged++;
    }
    if (!this.running) this.running = this.drain().finally(() => (this.running = null));
  }

  counts(): WebhookStats {
    return { ...this.stats, queued: this.queue.length };
  }

  /** Resolves when nothing is queued or in flight (tests, a clean stop). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops sending: what is queued is dropped, a POST in flight is aborted. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    for (const c of this.current) c.abort();
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.queue.length > 0) {
      if (this.droppedUnlogged > 0) {
        this.o.log.warn(
          { event: 'webhook_dropped', url: this.where, dropped: this.droppedUnlogged, droppedTotal: this.stats.dropped },
          'webhook receiver too slow or down: oldest notifications dropped',
        );
        this.droppedUnlogged = 0;
      }
      const body = this.queue.shift()!;
      await this.deliver(body);
    }
  }

  private async deliver(body: string): Promise<void> {
    let lastError = '';
    for (let attempt = 0; attempt <= this.o.retries && !this.stopped; attempt++) {
      if (attempt > 0) await (this.o.sleep ?? sleep)(this.o.backoffMs * 2 ** (attempt - 1));
      if (this.stopped) return;
      const outcome = await this.post(body);
      if (outcome === 'ok') {
        this.stats.sent++;
        return;
      }
      lastError = outcome.error;
      if (!outcome.retry) break;
      this.o.log.info({ event: 'webhook_retry', url: this.where, attempt: attempt + 1, error: lastError }, 'webhook POST failed; retrying');
    }
    if (this.stopped) return;
    this.stats.failed++;
    this.o.log.warn({ event: 'webhook_failed', url: this.where, error: lastError }, 'webhook notification not delivered');
  }

  private async post(body: string): Promise<'ok' | { error: string; retry: boolean }> {
    const controller = new AbortController();
    this.current.add(controller);
    const timer = setTimeout(() => controller.abort(), this.o.timeoutMs);
    try {
      const res = await fetch(this.o.url, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'hornets-tui' }, body, signal: controller.signal, redirect: 'error' });
      // The receiver's answer is not needed; reading it frees the connection.
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return 'ok';
      return { error: `HTTP ${res.status}`, retry: res.status >= 500 || res.status === 429 || res.status === 408 };
    } catch (err) {
      // fetch's errors can quote the URL: name the failure only.
      const timedOut = controller.signal.aborted;
      const cause = (err as { cause?: { code?: unknown } }).cause?.code;
      return { error: timedOut ? `no answer within ${this.o.timeoutMs} ms` : typeof cause === 'string' ? cause : 'network error', retry: true };
    } finally {
      clearTimeout(timer);
      this.current.delete(controller);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
