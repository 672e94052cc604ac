/** An agent as the engine records it: the domain's view, independent of any store. */

export type AgentState =
  | 'unknown'
  | 'starting'
  | 'busy'
  | 'idle'
  /** A permission prompt or a question to the user is on its screen: someone has to answer it. */
  | 'needs-input'
  /** A usage or rate limit stopped it; it waits (not a crash) until the limit resets (domain/usage-limit.ts). */
  | 'limited'
  | 'compacting'
  /** Hooks say idle, but nudges are refused or go unanswered: delivery is wedged, someone should look. */
  | 'stuck'
  | 'crashed'
  | 'backing-off'
  | 'failed'
  | 'paused'
  | 'stopped';

export interface AgentRecord {
  name: string;
  profile: string;
  state: AgentState;
  paneId: string | null;
  sessionId: string | null;
  generation: number;
  restartCount: number;
  lastRestart: number | null;
  lastError: string | null;
  contextPreserved: boolean;
  paused: boolean;
  /** Per-agent override of QueueLimits.maxDepth; null = store default. */
  maxDepth: number | null;
  lastEventAt: number | null;
  stopBlocks: number;
  createdAt: number;
  updatedAt: number;
}

export interface AgentRegistration {
  name: string;
  profile: string;
  maxDepth?: number | null;
}

/** State and the paused flag are absent: they change only through `transition` (agent-lifecycle.ts). */
export type AgentPatch = Partial<
  Pick<AgentRecord, 'profile' | 'paneId' | 'sessionId' | 'generation' | 'restartCount' | 'lastRestart' | 'lastError' | 'contextPreserved' | 'maxDepth' | 'lastEventAt' | 'stopBlocks'>
>;

export interface AgentContext {
  agent: string;
  lastBriefing: number | null;
  briefingContent: string | null;
  activitySummary: string | null;
  checkpointData: Record<string, unknown> | null;
  createdAt: number;
  updatedAt: number;
}

export type AgentContextPatch = Partial<Pick<AgentContext, 'lastBriefing' | 'briefingContent' | 'activitySummary' | 'checkpointData'>>;

/**
 * A state as stored. Before issue 17 a permission prompt was stored as `waiting-permission`; rows
 * written by an older hornets still say so.
 */
export function storedAgentState(s: string): AgentState {
  return (s === 'waiting-permission' ? 'needs-input' : s) as AgentState;
}
