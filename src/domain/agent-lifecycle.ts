/**
 * The agent life cycle: the one transition function behind every change of an agent's state.
 * Hook handlers, the engine (recovery, nudges, reconciliation), operator actions and the agent
 * manager describe what happened as a `LifecycleEvent`; the store applies `transition` inside its
 * write transaction, so a hook and the engine racing on the same agent cannot overwrite each
 * other's verdicts with stale reads. Pure and table-tested.
 */
import type { AgentRecord, AgentState } from './agent.js';
import { isHoldNote } from './screen-hold.js';
import { isLimitNote, limitNote } from './usage-limit.js';

export const agentStates = ['unknown', 'starting', 'busy', 'idle', 'needs-input', 'limited', 'compacting', 'stuck', 'crashed', 'backing-off', 'failed', 'paused', 'stopped'] as const;

export type LifecycleEvent =
  /**
   * A hook of the agent's current generation fired. `blocked`: a Stop hook kept the turn going;
   * `error`: the API error it reported (StopFailure, an error notification); `tool`: the tool a
   * PreToolUse or PermissionRequest is about.
   */
  | { type: 'hook'; event: string; source?: string | null; notification?: string | null; blocked?: boolean; error?: string | null; tool?: string | null }
  /**
   * A usage or rate limit stopped the agent's turn (a StopFailure or notification that says so):
   * it waits until `until` (null: not stated) and is no crash.
   */
  | { type: 'limited'; until: number | null; reason: string }
  /** The limit's reset time came (the engine's timer): the agent may work again. */
  | { type: 'limit-reset' }
  /** The screen was read (agents without hooks, or a hook agent whose hooks went quiet). */
  | { type: 'screen'; verdict: 'idle' | 'busy' | 'permission' | 'error' | 'unknown' }
  /** A state read from the screen was not confirmed by a fresh capture in time (domain/screen-hold.ts). */
  | { type: 'screen-expired' }
  /** Delivery has been held (a permission prompt on screen) long enough to escalate: `note` says why. */
  | { type: 'held'; note: string }
  /** The hold ended: its note goes. */
  | { type: 'released' }
  /** A pane was (re)spawned for a new generation: `up`, a restart, a half-open trial. */
  | { type: 'started' }
  /**
   * The agent's pane was seen dead while `generation` ran in it. A report that arrives after a
   * restart (a slow pane-died hook, a stale reconciliation) names an older generation: ignored.
   */
  | { type: 'pane-died'; generation: number; exitStatus?: number | null }
  /** Recovery scheduled a restart. */
  | { type: 'backing-off' }
  /** The breaker opened (restart limit, failed trial, authentication): no more restarts. */
  | { type: 'failed'; reason: string }
  /** Delivery to an agent that hooks call idle keeps being refused or ignored. */
  | { type: 'stuck'; reason: string }
  | { type: 'pause' }
  | { type: 'resume' }
  /** The operator closed the breaker. */
  | { type: 'reset' }
  /** The operator stopped it (stop, down), or its pane is known gone without a crash. */
  | { type: 'stopped' };

export interface LifecycleFacts {
  state: AgentState;
  generation: number;
  paused: boolean;
  lastError: string | null;
}

export interface LifecycleChange {
  state: AgentState;
  paused: boolean;
  lastError: string | null;
}

/** Claude Code notifications that put a question to the user, and those that say it was answered. */
const askingNotifications: ReadonlySet<string> = new Set(['permission_prompt', 'elicitation_dialog']);
const answeredNotifications: ReadonlySet<string> = new Set(['elicitation_complete', 'elicitation_response']);

/** No process runs in these (or it is on its way out): only recovery and the operator move them. */
const down: ReadonlySet<AgentState> = new Set(['crashed', 'backing-off', 'failed', 'stopped']);

function hookState(current: AgentState, e: Extract<LifecycleEvent, { type: 'hook' }>): AgentState {
  switch (e.event) {
    case 'SessionStart':
      return 'idle';
    case 'UserPromptSubmit':
    case 'PostToolUse':
      return 'busy';
    case 'Stop':
      return e.blocked ? 'busy' : 'idle';
    case 'StopFailure':
      return 'idle';
    case 'PreCompact':
      return 'compacting';
    case 'PreToolUse':
      // AskUserQuestion waits for the user's answer; any other tool is just work.
      return e.tool === 'AskUserQuestion' ? 'needs-input' : current === 'needs-input' || current === 'limited' ? current : 'busy';
    case 'PermissionRequest':
      return 'needs-input';
    case 'Notification':
      if (e.notification && askingNotifications.has(e.notification)) return 'needs-input';
      if (e.notification && answeredNotifications.has(e.notification)) return current === 'needs-input' ? 'busy' : current;
      // Claude Code's "idle for 60 s" notice proves nothing about an agent nudges cannot reach, nor
      // about a limited one (its prompt shows while it waits for the reset).
      if (e.notification === 'idle_prompt') return current === 'stuck' || current === 'limited' ? current : 'idle';
      return current;
    case 'SessionEnd':
      // A person at the pane typed /exit (or logged out): as deliberate as `hornets-tui stop`, so the
      // pane's death that follows is not a crash to restart. Other ends (/clear, unknown) leave it to
      // what follows: SessionStart, or the pane dying and recovery deciding.
      return e.source === 'prompt_input_exit' || e.source === 'logout' ? 'stopped' : current;
    default:
      return current;
  }
}

function screenState(current: AgentState, verdict: Extract<LifecycleEvent, { type: 'screen' }>['verdict']): AgentState {
  if (verdict === 'permission') return 'needs-input';
  if (verdict === 'busy') return 'busy';
  if (verdict === 'idle') return current === 'stuck' || current === 'limited' ? current : 'idle';
  return current;
}

/**
 * Where `event` takes an agent. `failed` is sticky (only a reset, a restart or a stop leave it);
 * an agent that is down ignores hooks and screens (a late hook of a dying process must not revive
 * it); `paused` is a flag shown as the state while the agent runs.
 */
/** What moved an agent, as its `agent_state` event says (`on`): `hook:Notification`, `pause`, … */
export function transitionCause(event: LifecycleEvent): string {
  return event.type === 'hook' ? `hook:${event.event}` : event.type;
}

export function transition(current: LifecycleFacts, event: LifecycleEvent): LifecycleChange {
  const same: LifecycleChange = { state: current.state, paused: current.paused, lastError: current.lastError };
  const live = !down.has(current.state);
  const leave = (state: AgentState): LifecycleChange => ({
    state,
    paused: current.paused,
    // A stuck, hold or limit note describes the state it leaves; other errors stay as the last one seen.
    lastError: (current.state === 'stuck' || isHoldNote(current.lastError) || isLimitNote(current.lastError)) && state !== current.state ? null : current.lastError,
  });
  switch (event.type) {
    case 'hook': {
      if (!live) return same;
      const error = event.error ?? null;
      if (current.paused || current.state === 'paused') return error ? { ...same, lastError: error } : same;
      const next = leave(hookState(current.state, event));
      return error ? { ...next, lastError: error } : next;
    }
    case 'screen':
      if (!live || current.paused || current.state === 'paused') return same;
      return leave(screenState(current.state, event.verdict));
    case 'screen-expired':
      // Not believed any more, and not known either: nothing is typed without a fresh look.
      if (!live || current.paused || current.state === 'paused') return same;
      return current.state === 'needs-input' || current.state === 'busy' ? leave('unknown') : same;
    case 'held':
      if (!live || current.state === 'stuck') return same;
      return { ...same, lastError: event.note };
    case 'limited':
      if (!live) return same;
      if (current.paused || current.state === 'paused') return { ...same, lastError: limitNote(event.until, event.reason) };
      return { state: 'limited', paused: false, lastError: limitNote(event.until, event.reason) };
    case 'limit-reset':
      if (current.state === 'limited') return { state: 'idle', paused: false, lastError: null };
      return isLimitNote(current.lastError) ? { ...same, lastError: null } : same;
    case 'released':
      return isHoldNote(current.lastError) ? { ...same, lastError: null } : same;
    case 'started':
      return { state: current.paused ? 'paused' : 'starting', paused: current.paused, lastError: null };
    case 'pane-died':
      if (event.generation !== current.generation) return same;
      if (current.state === 'stopped' || current.state === 'failed' || current.state === 'backing-off') return same;
      return { ...leave('crashed'), lastError: `exited with status ${event.exitStatus ?? 'unknown'}` };
    case 'backing-off':
      if (current.state === 'stopped' || current.state === 'failed') return same;
      return leave('backing-off');
    case 'failed':
      if (current.state === 'stopped') return same;
      return { state: 'failed', paused: current.paused, lastError: event.reason };
    case 'stuck':
      if (!live || current.paused || current.state === 'paused') return same;
      return { state: 'stuck', paused: false, lastError: event.reason };
    case 'pause':
      return { state: live ? 'paused' : current.state, paused: true, lastError: current.lastError };
    case 'resume':
      // Resumed agents are taken to be at their prompt; a busy one says otherwise with its next hook,
      // and nothing is typed into a pane whose screen shows it busy.
      return { state: current.state === 'paused' ? 'idle' : current.state, paused: false, lastError: current.lastError };
    case 'reset':
      if (current.state !== 'failed' && current.state !== 'stuck' && current.state !== 'limited') return { ...same, lastError: null };
      return { state: current.paused ? 'paused' : 'idle', paused: current.paused, lastError: null };
    case 'stopped':
      return { state: 'stopped', paused: current.paused, lastError: current.state === 'stuck' || isHoldNote(current.lastError) || isLimitNote(current.lastError) ? null : current.lastError };
  }
}

export function changed(a: LifecycleFacts, b: LifecycleChange): boolean {
  return a.state !== b.state || a.paused !== b.paused || a.lastError !== b.lastError;
}

export function factsOf(r: Pick<AgentRecord, 'state' | 'generation' | 'paused' | 'lastError'>): LifecycleFacts {
  return { state: r.state, generation: r.generation, paused: r.paused, lastError: r.lastError };
}

/** States in which nothing may be typed into the agent's pane. */
export const untypeableStates: ReadonlySet<AgentState> = new Set(['busy', 'needs-input', 'limited', 'compacting', 'starting', 'crashed', 'backing-off', 'stopped', 'failed', 'paused']);

/** States in which the agent waits for a person (or, limited, for the clock): the console sorts them first. */
export const needsYouStates: ReadonlySet<AgentState> = new Set(['needs-input', 'limited', 'stuck', 'failed']);
