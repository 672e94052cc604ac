/**
 * Talking to a running engine over its 127.0.0.1 endpoint (token from <state>/run/hook-endpoint):
 * pokes so it acts within milliseconds instead of at its next safety poll, operator actions, and a
 * health check. Fire and forget where it says so: no engine, no harm.
 */
import { readFileSync } from 'node:fs';
import type * as Http from 'node:http';
import { createRequire } from 'node:module';

// node:http (with net and streams) costs a short command more than its own work: loaded only when
// there is an engine to talk to. A synchronous require, not import(): the bundled CLI runs in a
// vm.Script, where import() of a built-in is not available.
const http = (): typeof Http => createRequire(import.meta.url)('node:http') as typeof Http;
import { endpointFile, paneDiedEndpointFile } from './paths.js';

export interface Endpoint {
  port: number;
  token: string;
}

/** The CLI's endpoint, or with `paneDied` the one reserved for tmux's pane-died hook. */
export function readEndpoint(stateDir: string, options: { paneDied?: boolean } = {}): Endpoint | null {
  try {
    const [port, token] = readFileSync(options.paneDied ? paneDiedEndpointFile(stateDir) : endpointFile(stateDir), 'utf8')
      .trim()
      .split(/\s+/);
    return port && token ? { port: Number(port), token } : null;
  } catch {
    return null;
  }
}

export type PokePath = '/wake' | '/event/pane-died' | '/event/config-changed' | '/control';

/** One token-checked request to the engine; null when no engine answers (no endpoint, refused, timeout). */
export async function engineRequest(stateDir: string, method: 'GET' | 'POST', path: string, body: Record<string, unknown> | null, timeoutMs: number): Promise<{ status: number; text: string } | null> {
  const ep = readEndpoint(stateDir, { paneDied: path === '/event/pane-died' });
  if (!ep) return null;
  const data = body === null ? '' : JSON.stringify(body);
  const { request } = http();
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: ep.port,
        path,
        method,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), 'x-hornets-token': ep.token },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end(data);
  });
}

export async function pokeDaemon(stateDir: string, path: PokePath, body: Record<string, unknown>, timeoutMs = 500): Promise<boolean> {
  const r = await engineRequest(stateDir, 'POST', path, body, timeoutMs);
  return r?.status === 200;
}

export interface EngineHealth {
  pid: number;
  hookPort: number;
  metricsUrl: string | null;
}

/** GET /healthz with the token: the engine that owns the endpoint file answers with its pid. */
export async function pingEngine(stateDir: string, timeoutMs = 1000): Promise<EngineHealth | null> {
  const r = await engineRequest(stateDir, 'GET', '/healthz', null, timeoutMs);
  if (!r || r.status !== 200) return null;
  try {
    const v = JSON.parse(r.text) as Partial<EngineHealth>;
    return typeof v.pid === 'number' ? { pid: v.pid, hookPort: Number(v.hookPort), metricsUrl: typeof v.metricsUrl === 'string' ? v.metricsUrl : null } : null;
  } catch {
    return null;
  }
}

/** GET a loopback URL the engine published (its metrics server); null when nothing answers. */
export async function httpGet(url: string, timeoutMs = 1000): Promise<{ status: number; text: string } | null> {
  const { request } = http();
  return new Promise((resolve) => {
    let req;
    try {
      req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
    } catch {
      return resolve(null);
    }
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}
