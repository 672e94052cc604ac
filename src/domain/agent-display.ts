/**
 * The one display rule: what an agent's state *is* to a person. `hornets-tui status`, `status
 * --json`, the console and the metrics all show `displayAgent(...)`, so they can never disagree
 * (issue 9, defect 4: an agent with no pane was `stopped` in status but `failed` in the console).
 *
 * Pure: the stored record plus what is known about the pane (and recovery's schedule, when known)
 * in, { state, label, colour, detail } out. Stored state alone is not the truth: a record can say
 * `idle` for a pane that vanished with its tmux server.
 */
import { isHoldNote } from './screen-hold.js';
import { limitUntil } from './usage-limit.js';
import { needsYouStates } from './agent-lifecycle.js';
import type { AgentRecord, AgentState } from './agent.js';

/** Every state a person can see is a life-cycle state (agent-lifecycle.ts); `stuck` included. */
export type DisplayState = AgentState;

/** A colour key, not a colour: the console's theme (or a mono terminal) decides what it looks like. */
export type DisplayColour = 'ok' | 'busy' | 'attention' | 'info' | 'bad' | 'fatal' | 'waiting' | 'muted';

/**
 * What tmux says about the recorded pane: `none` = no pane recorded or tmux does not know it (killed,
 * its server gone); `unknown` = tmux was not asked (e.g. the metrics endpoint), so the record stands.
 */
export type PaneFact = 'alive' | 'dead' | 'none' | 'unknown';

export interface DisplayFacts {
  record: Pick<AgentRecord, 'state' | 'paused' | 'lastError'> | null;
  pane: PaneFact;
  /** Exit status of a dead pane, when tmux reported it. */
  exitStatus?: number | null;
  /** When backing off: the scheduled restart time (recovery's `restart_scheduled` event), if known. */
  restartAt?: number | null;
  now?: number;
  /**
   * For an agent no hook has reported on yet (`starting`): what its screen shows, read with the
   * profile's patterns (domain/pane-state.ts). Hookless profiles only ever report this way.
   */
  screen?: 'idle' | 'busy' | 'permission' | 'unknown' | 'error' | null;
}

export interface AgentDisplay {
  state: DisplayState;
  /** Short words for a table cell (the console's STATE column is 15 wide). */
  label: string;
  colour: DisplayColour;
  /** One sentence: why this state, for --json, tooltips and the console's preview panel. */
  detail: string;
  /** Someone should look (issue 17): a question or prompt on screen, a limit, stuck, failed. */
  needsYou: boolean;
  /** `limited`: when its limit resets (the engine resumes it then); null when not stated or not limited. */
  resetAt: number | null;
}

export const displayColours: Readonly<Record<DisplayState, DisplayColour>> = {
  unknown: 'muted',
  starting: 'muted',
  idle: 'ok',
  busy: 'busy',
  'needs-input': 'attention',
  limited: 'attention',
  compacting: 'info',
  crashed: 'bad',
  'backing-off': 'waiting',
  failed: 'fatal',
  paused: 'info',
  stopped: 'muted',
  stuck: 'waiting',
};

/** `backing-off 12s` while the restart is ahead, `backing-off` when it is due or unknown. */
export function backoffLabel(restartAt: number | null | undefined, now: number | undefined): string {
  if (restartAt == null || now === undefined) return 'backing-off';
  return `backing-off ${Math.max(0, Math.ceil((restartAt - now) / 1000))}s`;
}

/** `limited 1h05m` / `limited 42s` while the stated reset is ahead, `limited` otherwise. */
export function limitedLabel(until: number | null, now: number | undefined): string {
  if (until === null || now === undefined) return 'limited';
  const s = Math.max(0, Math.ceil((until - now) / 1000));
  if (s < 60) return `limited ${s}s`;
  const m = Math.ceil(s / 60);
  return m < 60 ? `limited ${m}m` : `limited ${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function shown(state: DisplayState, detail: string, facts: DisplayFacts): AgentDisplay {
  let label: string = state;
  if (state === 'backing-off') label = backoffLabel(facts.restartAt, facts.now);
  else if (state === 'limited') label = limitedLabel(limitUntil(facts.record?.lastError), facts.now);
  return { state, label, colour: displayColours[state], detail, needsYou: needsYouStates.has(state), resetAt: state === 'limited' ? limitUntil(facts.record?.lastError) : null };
}

export function displayAgent(facts: DisplayFacts): AgentDisplay {
  const d = displayState(facts);
  // An escalated hold (domain/screen-hold.ts) says since when and which line, whatever the state
  // hooks report (a push agent's hooks may call it idle while its screen asks).
  const note = facts.record?.lastError;
  if (facts.pane === 'alive' && isHoldNote(note) && !d.detail.includes(note!)) return { ...d, detail: `${d.detail}: ${note}` };
  return d;
}

function displayState(facts: DisplayFacts): AgentDisplay {
  const r = facts.record;
  const stored = (r?.state ?? 'unknown') as DisplayState;
  const why = r?.lastError ? `: ${r.lastError}` : '';

  if (stored === 'failed') return shown('failed', `restart breaker open; R (restart) or \`hornets-tui reset\` closes it${why}`, facts);
  if (facts.pane === 'none') {
    if (stored === 'backing-off') return shown('backing-off', 'recovery will start it again after the back-off', facts);
    const last = stored === 'stopped' || stored === 'unknown' ? '' : ` (last known state: ${stored})`;
    return shown('stopped', `no tmux pane${last}; \`hornets-tui up\` starts it`, facts);
  }
  if (facts.pane === 'dead') {
    if (stored === 'backing-off') return shown('backing-off', 'its pane exited; recovery restarts it after the back-off', facts);
    if (stored === 'stopped') return shown('stopped', 'stopped; its pane is being closed', facts);
    const status = facts.exitStatus != null ? `exited with status ${facts.exitStatus}` : 'its pane exited';
    return shown('crashed', `${status}; recovery restarts it when an engine runs`, facts);
  }
  // The pane lives (or tmux was not asked): the record tells what the agent is doing.
  if (r?.paused || stored === 'paused') return shown('paused', 'delivery paused by an operator; p resumes', facts);
  if (stored === 'stopped') return shown('stopped', 'stopped by an operator', facts);
  if (stored === 'stuck') return shown('stuck', `hooks say idle but nudges are refused or unanswered; messages wait (attach to look; reset tries again)${why}`, facts);
  if (stored === 'unknown' || stored === 'starting') {
    if (facts.screen === 'idle') return shown('idle', 'its screen shows the prompt (no hook has reported yet)', facts);
    if (facts.screen === 'busy') return shown('busy', 'its screen shows it working (no hook has reported yet)', facts);
    if (facts.screen === 'permission') return shown('needs-input', 'its screen asks for a permission (Enter attaches)', facts);
    return shown('starting', 'started; no hook has reported yet', facts);
  }
  switch (stored) {
    case 'idle':
      return shown('idle', 'at its prompt; messages are delivered at once', facts);
    case 'busy':
      return shown('busy', 'working; messages are delivered at the next hook', facts);
    case 'needs-input':
      return shown('needs-input', 'waiting for a permission answer in its pane (Enter attaches)', facts);
    case 'limited': {
      const until = limitUntil(r?.lastError);
      const words = r?.lastError?.replace(/^limited(?: until \S+)?: /, '') ?? '';
      const tail = words ? `: ${words}` : '';
      if (until === null) return shown('limited', `usage limit, no reset time stated; messages wait (reset resumes it)${tail}`, facts);
      return shown('limited', `usage limit; resumes at ${new Date(until).toISOString()} with a nudge, messages wait${tail}`, facts);
    }
    case 'compacting':
      return shown('compacting', 'compacting its context; a rebrief follows', facts);
    case 'crashed':
      return shown('crashed', `its process ended${why}`, facts);
    case 'backing-off':
      return shown('backing-off', 'recovery restarts it after the back-off', facts);
    default:
      return shown(stored, stored, facts);
  }
}
