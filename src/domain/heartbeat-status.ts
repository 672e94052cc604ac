/**
 * The `status` word of a heartbeat file, for the seed systems' probes (seed 003:
 * `jq -r .status /shared/heartbeats/<worker>.json`): one word a shell check can compare.
 */
import type { AgentState } from './agent.js';

export type HeartbeatStatus = 'healthy' | 'degraded' | 'unhealthy' | 'down' | 'stopped';

/**
 * healthy: running and able to take work; degraded: running but waiting on someone (a permission
 * prompt, a wedged delivery); unhealthy: crashed, backing off or failed; down: no process and not
 * stopped on purpose (not started yet, or lost); stopped: stopped on purpose.
 */
export function heartbeatStatus(state: string, hasProcess: boolean): HeartbeatStatus {
  const s = state as AgentState;
  if (s === 'stopped') return 'stopped';
  if (s === 'failed' || s === 'crashed' || s === 'backing-off') return 'unhealthy';
  if (!hasProcess) return 'down';
  if (s === 'needs-input' || s === 'limited' || s === 'stuck') return 'degraded';
  return 'healthy';
}
