/** The listeners of a store's agent transitions (MessageStore.onAgentTransition), shared by both stores. */
import type { AgentTransition, AgentTransitionListener } from './store.js';

export class TransitionListeners {
  private readonly listeners = new Set<AgentTransitionListener>();

  add(listener: AgentTransitionListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** After the commit; a listener's failure is its own (the transition happened). */
  tell(agent: string, t: AgentTransition, cause: string): void {
    if (this.listeners.size === 0 || (!t.changed && t.before.paused === t.after.paused)) return;
    for (const l of this.listeners) {
      try {
        l(agent, t, cause);
      } catch {
        // A listener must not turn a committed transition into a failed call.
      }
    }
  }
}
