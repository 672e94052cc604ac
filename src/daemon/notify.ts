/**
 * Pokes a running daemon over its 127.0.0.1 endpoint (token from <state>/run/hook-endpoint) so it
 * acts within milliseconds instead of at its next safety poll. Fire and forget: no daemon, no harm.
 */
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { endpointFile } from './endpoint.js';

export function readEndpoint(stateDir: string): { port: number; token: string } | null {
  try {
    const [port, token] = readFileSync(endpointFile(stateDir), 'utf8').trim().split(/\s+/);
    return port && token ? { port: Number(port), token } : null;
  } catch {
    return null;
  }
}

export function pokeDaemon(stateDir: string, path: '/wake' | '/event/pane-died' | '/control', body: Record<string, unknown>, timeoutMs = 500): Promise<boolean> {
  const ep = readEndpoint(stateDir);
  if (!ep) return Promise.resolve(false);
  const data = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port: ep.port, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), 'x-hornets-token': ep.token }, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end(data);
  });
}
