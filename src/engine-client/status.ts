/** Is an engine running for this project, and where does it listen? From its files only (no request). */
import { existsSync, readFileSync } from 'node:fs';
import { endpointFile, metricsEndpointFile, pidFile } from './paths.js';
import { pidAlive, readPid } from './pid.js';
import { readEndpoint } from './poke.js';

export interface EngineStatus {
  pid: number | null;
  running: boolean;
  /** The hook endpoint is published (the daemon finished starting). */
  endpoint: boolean;
  /** 127.0.0.1 port of the hook endpoint, when published. */
  hookPort?: number | null;
  /** Where Prometheus scrapes, when the metrics server is on. */
  metricsUrl?: string | null;
}

export function readMetricsUrl(stateDir: string): string | null {
  try {
    const url = readFileSync(metricsEndpointFile(stateDir), 'utf8').trim();
    return url || null;
  } catch {
    return null;
  }
}

export function engineStatus(stateDir: string): EngineStatus {
  const pid = readPid(pidFile(stateDir));
  const running = pid !== null && pidAlive(pid);
  const endpoint = existsSync(endpointFile(stateDir));
  return {
    pid,
    running,
    endpoint,
    hookPort: running && endpoint ? (readEndpoint(stateDir)?.port ?? null) : null,
    metricsUrl: running ? readMetricsUrl(stateDir) : null,
  };
}

export { NO_ENGINE_TEXT } from '../domain/explain.js';
