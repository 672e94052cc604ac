/**
 * Budgets (issue 17): an agent whose tokens or cost exceed its hornets.json `budget` is paused (the
 * queue's pause: messages wait, nothing is lost) and marked over-budget; the mark, the pause it made
 * and an event say so. The operator's `resume` waives the budget it was over (control.ts); a raised
 * or removed budget lifts the pause the policy made. The policy is pure (domain/usage.ts budgetVerdict).
 */
import type { Logger } from 'pino';
import { budgetVerdict, type AgentUsage, type Budget } from '../domain/usage.js';
import type { MessageStore } from '../queue/store.js';
import type { Lifecycle } from '../services/lifecycle.js';

export interface BudgetGuardOptions {
  store: MessageStore;
  lifecycle: Lifecycle;
  log: Logger;
  budget: (agent: string) => Budget | undefined;
  wake: (agent: string) => void;
  /** The agent crossed its budget (once per crossing): the notifications tell the user. */
  onOverBudget?: (agent: string, reason: string) => void;
}

export class BudgetGuard {
  constructor(private readonly o: BudgetGuardOptions) {}

  /** Applies the policy to an agent's current totals. */
  async review(usage: AgentUsage): Promise<void> {
    const agent = usage.agent;
    const budget = this.o.budget(agent);
    const v = budgetVerdict(usage, budget);
    if (v.action === 'pause') {
      await this.o.store.markBudget(agent, { overBudget: true });
      // The event before the pause: the event stream, read on the pause's state change, carries both.
      await this.o.store.recordEvent({ agent, kind: 'over_budget', detail: { reason: v.reason, budget: budget ?? null, costUsd: usage.costUsd } });
      await this.o.lifecycle.apply(agent, { type: 'pause' }, {}, { overBudget: true, reason: v.reason });
      this.o.log.warn({ event: 'over_budget', agent, reason: v.reason }, 'agent over its budget: delivery paused');
      this.o.onOverBudget?.(agent, v.reason ?? 'over its budget');
    } else if (v.action === 'lift') {
      await this.o.store.markBudget(agent, { overBudget: false });
      await this.o.lifecycle.apply(agent, { type: 'resume' }, {}, { overBudget: false });
      await this.o.store.recordEvent({ agent, kind: 'budget_lifted', detail: { budget: budget ?? null, costUsd: usage.costUsd } });
      this.o.log.info({ event: 'budget_lifted', agent }, 'agent back within its budget: delivery resumed');
      this.o.wake(agent);
    }
  }

  /** Every named agent again (hornets.json changed: a budget may have been raised or set). */
  async reviewAll(agents: readonly string[]): Promise<void> {
    for (const u of await this.o.store.agentUsage(agents)) await this.review(u);
  }
}
