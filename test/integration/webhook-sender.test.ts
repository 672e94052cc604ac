/**
 * The webhook channel against a real local HTTP receiver (127.0.0.1): order, retries after 5xx
 * answers, a timeout against a receiver that never answers, the bounded queue dropping the oldest,
 * and a URL token that never reaches the log.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookSender, redactWebhookUrl } from '../../src/daemon/webhook-sender.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Receiver {
  url: string;
  bodies: unknown[];
  requests: number;
  open: ServerResponse[];
}

/** A receiver answering each request with `answer(n)` (n from 1): a status, or 'hang' (never answers). */
async function receiver(answer: (n: number) => number | 'hang'): Promise<Receiver> {
  const r: Receiver = { url: '', bodies: [], requests: 0, open: [] };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString('utf8')));
    req.on('end', () => {
      const n = ++r.requests;
      const a = answer(n);
      if (a === 'hang') {
        r.open.push(res);
        return;
      }
      if (a < 300) r.bodies.push(JSON.parse(data));
      res.statusCode = a;
      res.end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  cleanups.push(() => {
    for (const res of r.open) res.destroy();
    server.closeAllConnections();
    return new Promise((ok) => server.close(ok));
  });
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/s3cr3t-token?key=also-secret`;
  return r;
}

function capturedLog(): { log: pino.Logger; text: () => string } {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString('utf8');
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), text: () => out };
}

function sender(url: string, log: pino.Logger, o: Partial<{ timeoutMs: number; retries: number; backoffMs: number; queueMax: number }> = {}): WebhookSender {
  const s = new WebhookSender({ url, timeoutMs: 2000, retries: 3, backoffMs: 20, queueMax: 100, log, ...o });
  cleanups.push(() => s.stop());
  return s;
}

describe('webhook sender', () => {
  it('POSTs the bodies in order as JSON', async () => {
    const r = await receiver(() => 200);
    const s = sender(r.url, capturedLog().log);
    s.send({ n: 1 });
    s.send({ n: 2, text: 'hello' });
    await s.idle();
    expect(r.bodies).toEqual([{ n: 1 }, { n: 2, text: 'hello' }]);
    expect(s.counts()).toMatchObject({ sent: 2, failed: 0, dropped: 0, queued: 0 });
  });

  it('retries after 500s with backoff, then delivers; the URL token is never logged', async () => {
    const r = await receiver((n) => (n <= 2 ? 500 : 200));
    const cap = capturedLog();
    const s = sender(r.url, cap.log);
    s.send({ n: 1 });
    await s.idle();
    expect(r.requests).toBe(3);
    expect(r.bodies).toEqual([{ n: 1 }]);
    expect(cap.text()).toMatch(/webhook_retry/);
    expect(cap.text()).not.toMatch(/s3cr3t|also-secret|T000/);
  });

  it('gives up after its retries; a 4xx is not retried', async () => {
    const r = await receiver(() => 500);
    const cap = capturedLog();
    const s = sender(r.url, cap.log, { retries: 2 });
    s.send({ n: 1 });
    await s.idle();
    expect(r.requests).toBe(3);
    expect(s.counts()).toMatchObject({ sent: 0, failed: 1 });
    const r4 = await receiver(() => 404);
    const s4 = sender(r4.url, cap.log, { retries: 5 });
    s4.send({ n: 1 });
    await s4.idle();
    expect(r4.requests).toBe(1);
    expect(cap.text()).toMatch(/webhook_failed/);
    expect(cap.text()).not.toMatch(/s3cr3t/);
  });

  it('a receiver that never answers: each POST times out, send() never waits, the next body goes after', async () => {
    const r = await receiver((n) => (n <= 2 ? 'hang' : 200));
    const s = sender(r.url, capturedLog().log, { timeoutMs: 300, retries: 0 });
    s.send({ n: 1 });
    s.send({ n: 2 });
    s.send({ n: 3 });
    // Queued, not sent: send() returned while the first POST hangs.
    expect(s.counts()).toMatchObject({ queued: 2, sent: 0 });
    await s.idle();
    expect(r.requests).toBe(3);
    expect(r.bodies).toEqual([{ n: 3 }]);
    expect(s.counts()).toMatchObject({ sent: 1, failed: 2 });
  });

  it('receiver down for long: the queue keeps the newest, drops the oldest and counts them in the log', async () => {
    const r = await receiver((n) => (n === 1 ? 'hang' : 200));
    const cap = capturedLog();
    const s = sender(r.url, cap.log, { timeoutMs: 500, retries: 0, queueMax: 3 });
    for (let n = 1; n <= 10; n++) s.send({ n });
    await s.idle();
    // 1 was in flight (timed out); 2..10 queued through a queue of 3: 8, 9, 10 remain.
    expect(r.bodies).toEqual([{ n: 8 }, { n: 9 }, { n: 10 }]);
    expect(s.counts().dropped).toBe(6);
    expect(cap.text()).toMatch(/"event":"webhook_dropped".*"dropped":6/);
  });

  it('redacts URLs to scheme and host', () => {
    expect(redactWebhookUrl('https://hooks.slack.com/services/T/B/XYZ?x=1')).toBe('https://hooks.slack.com/…');
    expect(redactWebhookUrl('https://user:pw@example.com/x')).toBe('https://example.com/…');
    expect(redactWebhookUrl('nonsense')).toBe('(invalid URL)');
  });
});
