/**
 * The agent state machine, fed by hook events, tmux (pane died) and, for profiles without hooks,
 * pane activity. Pure: the daemon records every transition it returns.
 */
import type { AgentState } from './agent.js';

export type AgentSignal =
  | { type: 'hook'; event: string; source?: string | null; notification?: string | null }
  | { type: 'pane'; verdict: 'idle' | 'busy' | 'permission' | 'error' | 'unknown' }
  | { type: 'pane-died' }
  | { type: 'started' }
  | { type: 'backing-off' }
  | { type: 'breaker-open' }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stopped' };

/** States an operator or the recovery policy set; only an explicit signal moves out of them. */
const sticky: ReadonlySet<AgentState> = new Set(['paused', 'failed', 'stopped']);

export function nextState(current: AgentState, signal: AgentSignal): AgentState {
  switch (signal.type) {
    case 'pause':
      return 'paused';
    case 'resume':
      return current === 'paused' ? 'idle' : current;
    case 'stopped':
      return 'stopped';
    case 'pane-died':
      return current === 'stopped' ? 'stopped' : 'crashed';
    case 'started':
      return current === 'paused' ? 'paused' : 'starting';
    case 'backing-off':
      return 'backing-off';
    case 'breaker-open':
      return 'failed';
    case 'pane': {
      if (sticky.has(current) || current === 'crashed' || current === 'backing-off') return current;
      if (signal.verdict === 'permission') return 'waiting-permission';
      if (signal.verdict === 'busy') return 'busy';
      if (signal.verdict === 'idle') return 'idle';
      return current;
    }
    case 'hook': {
      if (current === 'paused' || current === 'failed') return current;
      switch (signal.event) {
        case 'SessionStart':
          return 'idle';
        case 'UserPromptSubmit':
        case 'PostToolUse':
          return 'busy';
        case 'Stop':
        case 'StopFailure':
          return 'idle';
        case 'PreCompact':
          return 'compacting';
        case 'SessionEnd':
          return 'stopped';
        case 'Notification':
          if (signal.notification === 'permission_prompt') return 'waiting-permission';
          if (signal.notification === 'idle_prompt') return 'idle';
          return current;
        default:
          return current;
      }
    }
  }
}
