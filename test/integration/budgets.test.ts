import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { BudgetGuard } from '../../src/daemon/budgets.js';
import { Lifecycle } from '../../src/services/lifecycle.js';
import { budgetKey, type Budget } from '../../src/domain/usage.js';

describe('BudgetGuard (the budget policy applied to the store)', () => {
  let dir: string;
  let store: SqliteMessageStore;
  let budget: Budget | undefined;
  let woken: string[];
  let guard: BudgetGuard;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hornets-budget-'));
    store = await openSqliteStore(path.join(dir, 'hornets.db'));
    await store.registerAgents([{ name: 'a', profile: 'claude-code' }]);
    await store.transitionAgent('a', { type: 'hook', event: 'Stop' });
    budget = { usd: 1 };
    woken = [];
    guard = new BudgetGuard({ store, lifecycle: new Lifecycle(store), log: pino({ level: 'silent' }), budget: () => budget, wake: (a) => woken.push(a) });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const spend = (id: string, costUsd: number) => store.recordUsage('a', { entries: [{ messageId: id, model: 'm', input: 1, output: 1, cacheRead: 0, cacheCreation: 0, costUsd }] });
  const claimable = async () => (await store.claim('a', { owner: 't', leaseMs: 1000 })).length;

  it('over budget: paused and marked, messages wait; a raised budget lifts it and wakes the agent', async () => {
    await guard.review(await spend('m1', 0.5));
    expect((await store.getAgent('a'))!.paused).toBe(false);
    const { message } = await store.enqueue({ agent: 'a', body: 'work' });
    await guard.review(await spend('m2', 0.75));
    expect((await store.getAgent('a'))!.paused).toBe(true);
    expect((await store.agentUsage(['a']))[0]!.overBudget).toBe(true);
    expect((await store.events({ agent: 'a', kinds: ['over_budget'] }))[0]!.detail).toMatchObject({ budget: { usd: 1 } });
    expect(await claimable()).toBe(0);
    expect((await store.get(message.id)).state).toBe('queued');

    budget = { usd: 5 };
    await guard.reviewAll(['a']);
    expect((await store.getAgent('a'))!.paused).toBe(false);
    expect((await store.agentUsage(['a']))[0]!.overBudget).toBe(false);
    expect(woken).toEqual(['a']);
    expect(await claimable()).toBe(1);
  });

  it('an operator pause is not lifted by the budget policy, and a waived budget is not enforced again until it changes', async () => {
    await store.transitionAgent('a', { type: 'pause' });
    await guard.reviewAll(['a']);
    expect((await store.getAgent('a'))!.paused).toBe(true);
    await store.transitionAgent('a', { type: 'resume' });

    await guard.review(await spend('m1', 2));
    expect((await store.getAgent('a'))!.paused).toBe(true);
    // What `resume a` does (services/control.ts): the mark goes, the budget it was over is waived.
    await store.markBudget('a', { overBudget: false, waivedBudget: budgetKey(budget!) });
    await store.transitionAgent('a', { type: 'resume' });
    await guard.review(await spend('m2', 1));
    expect((await store.getAgent('a'))!.paused).toBe(false);
    budget = { usd: 2.5 };
    await guard.reviewAll(['a']);
    expect((await store.getAgent('a'))!.paused).toBe(true);
  });
});
