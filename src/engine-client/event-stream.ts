/**
 * The client side of the engine's event stream (GET /events, issue 17): opened with the CLI's
 * token, resolved once the engine has taken the subscription (so nothing recorded after that is
 * missed), then one callback per event until the engine closes it.
 */
import type * as Http from 'node:http';
import { createRequire } from 'node:module';
import type { FeedEvent } from '../domain/agent-events.js';
import { readEndpoint } from './poke.js';

const http = (): typeof Http => createRequire(import.meta.url)('node:http') as typeof Http;

export interface EventStream {
  close(): void;
  /** Resolves when the engine ends the stream (it stopped) or it is closed here. */
  ended: Promise<void>;
}

/** Null when no engine answers (no endpoint file, nothing listening, refused). */
export function openEventStream(stateDir: string, agent: string | null, onEvent: (e: FeedEvent) => void, timeoutMs = 5000): Promise<EventStream | null> {
  const ep = readEndpoint(stateDir);
  if (!ep) return Promise.resolve(null);
  return new Promise((resolve) => {
    let settled = false;
    let endResolve: () => void = () => undefined;
    const ended = new Promise<void>((r) => (endResolve = r));
    const settle = (v: EventStream | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(v);
    };
    const req = http().request(
      { host: '127.0.0.1', port: ep.port, path: agent === null ? '/events' : `/events?agent=${encodeURIComponent(agent)}`, method: 'GET', headers: { 'x-hornets-token': ep.token } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return settle(null);
        }
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl);
            buffer = buffer.slice(nl + 1);
            let parsed: unknown;
            try {
              parsed = JSON.parse(line);
            } catch {
              continue;
            }
            if (parsed && typeof parsed === 'object' && (parsed as { ready?: unknown }).ready === true) settle({ close: () => req.destroy(), ended });
            else if (parsed && typeof parsed === 'object') onEvent(parsed as FeedEvent);
          }
        });
        res.on('close', () => {
          endResolve();
          settle(null);
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      settle(null);
    }, timeoutMs);
    req.on('error', () => {
      endResolve();
      settle(null);
    });
    req.end();
  });
}
