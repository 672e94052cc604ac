/**
 * Where a running engine (the daemon process) publishes itself under <state>/run/. The daemon
 * writes these files and clients only read them; both sides take the names from here.
 */
import { join } from 'node:path';

/** The daemon's pid file: one engine per project (see src/daemon/lock.ts). */
export function pidFile(stateDir: string): string {
  return join(stateDir, 'run', 'daemon.pid');
}

/**
 * "<port> <token> <server token>" of the engine's endpoint (mode 0600): the token is the CLI's
 * (control, wake, health); hooks read only the port and carry their agent's own credential.
 */
export function endpointFile(stateDir: string): string {
  return join(stateDir, 'run', 'hook-endpoint');
}

/** "<port> <token>" for tmux's pane-died hook only (mode 0600): a token no agent is handed. */
export function paneDiedEndpointFile(stateDir: string): string {
  return join(stateDir, 'run', 'pane-died-endpoint');
}

/** The metrics URL (http://127.0.0.1:<port>/metrics) the metrics server publishes. */
export function metricsEndpointFile(stateDir: string): string {
  return join(stateDir, 'run', 'metrics-endpoint');
}

/** The header naming the agent of a /wake poke (the engine acts on the head; see poke.ts). */
export const WAKE_AGENT_HEADER = 'x-hornets-agent';
