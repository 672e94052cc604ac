/**
 * The webhook channel of notifications (issue 17): POSTs JSON bodies to hornets.json
 * `notify.webhook.url`, one at a time in order, each with a timeout and retries with doubling
 * backoff. `send` only queues: the engine never waits for a receiver. The queue is bounded; while
 * the receiver is down for long the oldest waiting bodies are dropped and counted. The URL may carry
 * a token (Slack's do): logs name its origin only. node:http(s) with one kept-alive connection, not
 * fetch: a team hitting a limit together is a burst of POSTs, and fetch costs the engine about four
 * times the CPU per POST (and loads undici on the first).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
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
  /** One at a time, in order: one connection, kept open between POSTs. */
  private readonly agent: HttpAgent;
  private readonly target: URL | null;

  constructor(private readonly o: WebhookSenderOptions) {
    this.where = redactWebhookUrl(o.url);
    this.target = parseUrl(o.url);
    this.agent = this.target?.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
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
    this.agent.destroy();
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

  private async post(body: string, fresh = false): Promise<'ok' | { error: string; retry: boolean }> {
    const target = this.target;
    if (!target) return { error: 'invalid URL', retry: false };
    const controller = new AbortController();
    this.current.add(controller);
    const timer = setTimeout(() => controller.abort(), this.o.timeoutMs);
    let reused = false;
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
        const req = send(
          target,
          {
            method: 'POST',
            agent: this.agent,
            signal: controller.signal,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'hornets-tui' },
          },
          (res: IncomingMessage) => {
            // The receiver's answer is not needed; reading it frees the connection (a redirect is not followed).
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.on('socket', () => (reused = req.reusedSocket));
        req.end(body);
      });
      if (status >= 200 && status < 300) return 'ok';
      return { error: `HTTP ${status}`, retry: status >= 500 || status === 429 || status === 408 };
    } catch (err) {
      // Errors can quote the URL: name the failure only.
      const timedOut = controller.signal.aborted;
      const code = (err as { code?: unknown }).code;
      // The receiver closed the kept-alive connection as this POST went out: not its failure, sent again at once.
      if (!timedOut && reused && !fresh && (code === 'ECONNRESET' || code === 'EPIPE')) {
        clearTimeout(timer);
        this.current.delete(controller);
        return this.post(body, true);
      }
      return { error: timedOut ? `no answer within ${this.o.timeoutMs} ms` : typeof code === 'string' ? code : 'network error', retry: true };
    } finally {
      clearTimeout(timer);
      this.current.delete(controller);
    }
  }
}

function parseUrl(url: string): URL | null {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : null;
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
