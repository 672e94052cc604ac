/**
 * Applies life-cycle events for the engine's parts and tells listeners (status pipe, metrics)
 * about state changes. The transition itself is the domain's; the store applies it atomically.
 */
import type { AgentPatch, AgentState } from '../domain/agent.js';
import type { LifecycleEvent } from '../domain/agent-lifecycle.js';
import type { AgentTransition, MessageStore } from '../queue/store.js';

export type StateListener = (agent: string, from: AgentState, to: AgentState, detail?: Record<string, unknown>) => void;

export class Lifecycle {
  constructor(
    private readonly store: MessageStore,
    private readonly listener?: StateListener,
  ) {}

  async apply(agent: string, event: LifecycleEvent, extra?: Omit<AgentPatch, 'lastError'>, detail?: Record<string, unknown>): Promise<AgentTransition> {
    const t = await this.store.transitionAgent(agent, event, extra);
    if (t.changed) this.listener?.(agent, t.before.state, t.after.state, detail);
    return t;
  }
}
