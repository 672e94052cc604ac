/**
 * Backend-neutral conformance suite for MessageStore (DESIGN.md §3).
 *
 * Every backend (SQLite now, Redis later) registers itself with
 * `runStoreConformance(name, factory)` from a `*.test.ts` file. The suite only uses the
 * public interface, a fake clock (`now` is advanced, never slept on) and a fixed jitter
 * source (`random: () => 0.5`), so it is deterministic and fast.
 */
import { mulberry32 } from '../helpers/random.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { EnqueueInput, ExportedMessage, Message, MessageState } from '../../src/domain/message.js';
import { messageStates } from '../../src/domain/message.js';
import { emptyUsage, type UsageEntry } from '../../src/domain/usage.js';
import { retryDelayMs } from '../../src/domain/retry.js';
import { QueueError, type QueueErrorCode } from '../../src/errors.js';
import type { ImportRecord, MessageStore, QueueLimits, StoreOptions } from '../../src/queue/store.js';
import { defaultQueueLimits } from '../../src/queue/store.js';
import { parseAckHeader } from '../../src/daemon/hook-server.js';

export type StoreFactory = (opts: StoreOptions) => Promise<{ store: MessageStore; cleanup: () => Promise<void> }>;

const T0 = 1_700_000_000_000;
const LEASE = 30_000;

async function expectQueueError(promise: Promise<unknown>, code: QueueErrorCode): Promise<QueueError> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) {
    throw new Error(`expected a QueueError with code "${code}", but the call resolved with ${JSON.stringify(outcome.value)}`);
  }
  expect(outcome.error, `expected QueueError(${code}), got ${String(outcome.error)}`).toBeInstanceOf(QueueError);
  expect((outcome.error as QueueError).code).toBe(code);
  return outcome.error as QueueError;
}

function zeroCounts(): Record<MessageState, number> {
  return Object.fromEntries(messageStates.map((s) => [s, 0])) as Record<MessageState, number>;
}

/** `needles` appear in `haystack` in this order (other items may sit between them). */
function expectSubsequence(haystack: readonly (string | null)[], needles: readonly string[]): void {
  let i = 0;
  for (const item of haystack) {
    if (i < needles.length && item === needles[i]) i++;
  }
  expect(i, `expected [${needles.join(', ')}] in order within [${haystack.join(', ')}]`).toBe(needles.length);
}

const exportedKeys = ['agent', 'attempts', 'body', 'createdAt', 'expiresAt', 'id', 'key', 'maxAttempts', 'meta', 'priority', 'redeliveries', 'sender'].sort();

export function runStoreConformance(backendName: string, factory: StoreFactory): void {
  describe(`MessageStore conformance: ${backendName}`, () => {
    let now = T0;
    const clock = () => now;
    let cleanups: Array<() => Promise<void>> = [];

    beforeEach(() => {
      now = T0;
      cleanups = [];
    });

    afterEach(async () => {
      // Close in reverse order; surface the first failure after trying all.
      let firstError: unknown;
      for (const cleanup of cleanups.reverse()) {
        try {
          await cleanup();
        } catch (err) {
          firstError ??= err;
        }
      }
      cleanups = [];
      if (firstError) throw firstError;
    });

    /** A fresh store with the fake clock; agents `alice` and `bob` registered unless told otherwise. */
    async function open(
      limits?: Partial<QueueLimits>,
      agents: Array<{ name: string; profile: string; maxDepth?: number | null }> = [
        { name: 'alice', profile: 'claude-code' },
        { name: 'bob', profile: 'shell' },
      ],
    ): Promise<MessageStore> {
      const opts: StoreOptions = { clock, random: () => 0.5 };
      if (limits) opts.limits = limits;
      const { store, cleanup } = await factory(opts);
      cleanups.push(cleanup);
      if (agents.length > 0) await store.registerAgents(agents);
      return store;
    }

    async function enq(store: MessageStore, input: Partial<EnqueueInput> & { body: string }): Promise<Message> {
      const res = await store.enqueue({ agent: 'alice', ...input });
      expect(res.created).toBe(true);
      return res.message;
    }

    async function claimOne(store: MessageStore, agent = 'alice', leaseMs = LEASE): Promise<Message> {
      const claimed = await store.claim(agent, { owner: 'test', leaseMs });
      expect(claimed, `expected one claimable message for ${agent}`).toHaveLength(1);
      return claimed[0]!;
    }

    async function stateOf(store: MessageStore, id: string): Promise<MessageState> {
      return (await store.get(id)).state;
    }

    /** queued -> leased -> delivered for one message; returns the delivered message. */
    async function deliver(store: MessageStore, agent: string, sessionId: string): Promise<Message> {
      const m = await claimOne(store, agent);
      expect(await store.ack({ leaseToken: m.leaseToken!, sessionId })).toBe(1);
      return store.get(m.id);
    }

    async function snapshot(store: MessageStore): Promise<{ list: Message[]; totals: Record<MessageState, number> }> {
      return { list: await store.list({ limit: 10_000 }), totals: (await store.stats()).totals };
    }

    // ------------------------------------------------------------------ agents

    describe('agents', () => {
      it('enqueue to an unregistered agent rejects with unknown_agent and stores nothing', async () => {
        const store = await open(undefined, []);
        await expectQueueError(store.enqueue({ agent: 'ghost', body: 'hello' }), 'unknown_agent');
        expect(await store.list({ limit: 100 })).toEqual([]);
        await store.registerAgents([{ name: 'ghost', profile: 'shell' }]);
        const res = await store.enqueue({ agent: 'ghost', body: 'hello' });
        expect(res.created).toBe(true);
        expect(res.message.agent).toBe('ghost');
      });

      it('registerAgents creates agents visible through getAgent and listAgents', async () => {
        const store = await open();
        const alice = await store.getAgent('alice');
        expect(alice).not.toBeNull();
        expect(alice!.name).toBe('alice');
        expect(alice!.profile).toBe('claude-code');
        expect(alice!.paused).toBe(false);
        expect(alice!.maxDepth).toBeNull();
        expect(await store.getAgent('nobody')).toBeNull();
        const names = (await store.listAgents()).map((a) => a.name).sort();
        expect(names).toEqual(['alice', 'bob']);
      });

      it('registerAgents is an idempotent upsert: updates profile/maxDepth, keeps other fields', async () => {
        const store = await open();
        await store.updateAgent('alice', { paneId: '%12', restartCount: 3, sessionId: 'sess-1', generation: 2 });
        await store.registerAgents([{ name: 'alice', profile: 'codex', maxDepth: 7 }]);
        await store.registerAgents([{ name: 'alice', profile: 'codex', maxDepth: 7 }]);
        const alice = await store.getAgent('alice');
        expect(alice!.profile).toBe('codex');
        expect(alice!.maxDepth).toBe(7);
        expect(alice!.paneId).toBe('%12');
        expect(alice!.restartCount).toBe(3);
        expect(alice!.sessionId).toBe('sess-1');
        expect(alice!.generation).toBe(2);
        const names = (await store.listAgents()).map((a) => a.name).sort();
        expect(names).toEqual(['alice', 'bob']);
      });

      it('registerAgents keeps existing messages of the agent', async () => {
        const store = await open();
        const m = await enq(store, { body: 'keep me' });
        await store.registerAgents([{ name: 'alice', profile: 'claude-code' }]);
        expect((await store.get(m.id)).state).toBe('queued');
      });

      it('updateAgent round-trips every patch field', async () => {
        const store = await open();
        const patch = {
          profile: 'gemini',
          paneId: '%3',
          sessionId: 'abc-123',
          generation: 4,
          restartCount: 2,
          lastRestart: T0 - 5_000,
          lastError: 'exited 137',
          contextPreserved: true,
          maxDepth: 42,
          lastEventAt: T0 - 1_000,
        };
        const returned = await store.updateAgent('alice', patch);
        expect(returned).toMatchObject({ name: 'alice', ...patch });
        expect(await store.getAgent('alice')).toMatchObject({ name: 'alice', ...patch });
        // A partial patch leaves the other fields alone; null clears a nullable field.
        await store.updateAgent('alice', { lastError: null });
        const again = await store.getAgent('alice');
        expect(again).toMatchObject({ ...patch, lastError: null });
        // Other agents are untouched.
        expect((await store.getAgent('bob'))!.profile).toBe('shell');
      });

      it('transitionAgent applies the life-cycle transition atomically, with its event and extra fields', async () => {
        const store = await open();
        let t = await store.transitionAgent('alice', { type: 'started' }, { paneId: '%4', generation: 1 });
        expect(t).toMatchObject({ changed: true, before: { state: 'unknown' }, after: { state: 'starting', paneId: '%4', generation: 1 } });
        t = await store.transitionAgent('alice', { type: 'hook', event: 'SessionStart', source: 'startup' }, { lastEventAt: T0 });
        expect(t.after).toMatchObject({ state: 'idle', lastEventAt: T0 });
        const events = (await store.events({ agent: 'alice', limit: 50 })).filter((e) => e.kind === 'agent_state');
        expect(events.map((e) => [e.fromState, e.toState])).toEqual([
          ['unknown', 'starting'],
          ['starting', 'idle'],
        ]);
        // failed is sticky: a later hook neither moves the state nor overwrites the reason.
        await store.transitionAgent('alice', { type: 'failed', reason: 'authentication failed: 401' });
        t = await store.transitionAgent('alice', { type: 'hook', event: 'Stop' }, { lastEventAt: T0 + 1 });
        expect(t.changed).toBe(false);
        expect(t.after).toMatchObject({ state: 'failed', lastError: 'authentication failed: 401', lastEventAt: T0 + 1 });
        // A death reported for an older generation changes nothing.
        await store.transitionAgent('alice', { type: 'started' }, { generation: 2 });
        t = await store.transitionAgent('alice', { type: 'pane-died', generation: 1, exitStatus: 9 });
        expect(t.after.state).toBe('starting');
        t = await store.transitionAgent('alice', { type: 'pane-died', generation: 2, exitStatus: 9 });
        expect(t.after).toMatchObject({ state: 'crashed', lastError: 'exited with status 9' });
        // pause/resume carry the paused flag; other agents are untouched.
        await store.transitionAgent('alice', { type: 'started' }, { generation: 3 });
        t = await store.transitionAgent('alice', { type: 'pause' });
        expect(t.after).toMatchObject({ state: 'paused', paused: true });
        t = await store.transitionAgent('alice', { type: 'resume' });
        expect(t.after).toMatchObject({ state: 'idle', paused: false });
        expect((await store.getAgent('bob'))!.state).toBe('unknown');
        await expectQueueError(store.transitionAgent('nobody', { type: 'pause' }), 'unknown_agent');
      });

      it('agent context: patch merge, checkpointData round-trips as an object', async () => {
        const store = await open();
        const first = await store.saveAgentContext('alice', { briefingContent: 'you are alice', lastBriefing: now });
        expect(first.agent).toBe('alice');
        expect(first.briefingContent).toBe('you are alice');
        expect(first.lastBriefing).toBe(T0);

        now += 1_000;
        const checkpoint = { step: 3, files: ['a.ts', 'b.ts'], nested: { ok: true, n: null } };
        await store.saveAgentContext('alice', { activitySummary: 'editing a.ts', checkpointData: checkpoint });

        const ctx = await store.getAgentContext('alice');
        expect(ctx).not.toBeNull();
        expect(ctx!.briefingContent).toBe('you are alice');
        expect(ctx!.lastBriefing).toBe(T0);
        expect(ctx!.activitySummary).toBe('editing a.ts');
        expect(ctx!.checkpointData).toEqual(checkpoint);
        expect(typeof ctx!.checkpointData).toBe('object');

        await store.saveAgentContext('alice', { checkpointData: null });
        const cleared = await store.getAgentContext('alice');
        expect(cleared!.checkpointData).toBeNull();
        expect(cleared!.activitySummary).toBe('editing a.ts');

        // Contexts are per agent.
        const bobCtx = await store.getAgentContext('bob');
        expect(bobCtx?.briefingContent ?? null).toBeNull();
      });
    });

    // ------------------------------------------------------------------ enqueue

    describe('enqueue', () => {
      it('creates a queued message with defaults', async () => {
        const store = await open();
        const res = await store.enqueue({ agent: 'alice', body: 'hello' });
        expect(res.created).toBe(true);
        const m = res.message;
        expect(typeof m.id).toBe('string');
        expect(m.id.length).toBeGreaterThanOrEqual(4);
        expect(m).toMatchObject({
          agent: 'alice',
          body: 'hello',
          priority: 5,
          state: 'queued',
          attempts: 0,
          maxAttempts: defaultQueueLimits.maxAttempts,
          availableAt: T0,
          expiresAt: null,
          key: null,
          sender: null,
          leaseToken: null,
          redeliveries: 0,
          createdAt: T0,
        });
        expect(await store.get(m.id)).toEqual(m);
      });

      it('stores sender, key, meta, maxAttempts and ttl', async () => {
        const store = await open();
        const meta = { source: 'cli', tags: ['x', 'y'], n: 1 };
        const m = await enq(store, { body: 'b', sender: 'bob', key: 'k-1', meta, maxAttempts: 9, ttlMs: 60_000, priority: 20 });
        const got = await store.get(m.id);
        expect(got.sender).toBe('bob');
        expect(got.key).toBe('k-1');
        expect(got.meta).toEqual(meta);
        expect(got.maxAttempts).toBe(9);
        expect(got.expiresAt).toBe(T0 + 60_000);
        expect(got.priority).toBe(20);
      });

      it('assigns increasing seq numbers and distinct ids', async () => {
        const store = await open();
        const a = await enq(store, { body: 'a' });
        const b = await enq(store, { body: 'b', agent: 'bob' });
        const c = await enq(store, { body: 'c' });
        expect(b.seq).toBeGreaterThan(a.seq);
        expect(c.seq).toBeGreaterThan(b.seq);
        expect(new Set([a.id, b.id, c.id]).size).toBe(3);
      });

      it('rejects empty and whitespace-only bodies with empty_body', async () => {
        const store = await open();
        await expectQueueError(store.enqueue({ agent: 'alice', body: '' }), 'empty_body');
        await expectQueueError(store.enqueue({ agent: 'alice', body: '  \n\t  ' }), 'empty_body');
        expect((await snapshot(store)).list).toEqual([]);
      });

      it('rejects bodies over maxBodyBytes counted in UTF-8 bytes', async () => {
        const store = await open({ maxBodyBytes: 10 });
        await enq(store, { body: 'a'.repeat(10) });
        // 6 characters but 12 UTF-8 bytes.
        await expectQueueError(store.enqueue({ agent: 'alice', body: 'é'.repeat(6) }), 'body_too_large');
        await expectQueueError(store.enqueue({ agent: 'alice', body: 'a'.repeat(11) }), 'body_too_large');
        await enq(store, { body: 'é'.repeat(5) });
        expect(await store.list({ agent: 'alice', limit: 100 })).toHaveLength(2);
      });

      it('default body limit is 256 KiB', async () => {
        const store = await open();
        await enq(store, { body: 'x'.repeat(256 * 1024) });
        await expectQueueError(store.enqueue({ agent: 'alice', body: 'x'.repeat(256 * 1024 + 1) }), 'body_too_large');
        expect(await store.list({ agent: 'alice', limit: 100 })).toHaveLength(1);
      });

      it('rejects priorities that are not integers in 0..200 with invalid_priority', async () => {
        const store = await open();
        for (const priority of [-1, 201, 2.5, Number.NaN, Number.POSITIVE_INFINITY, 1000]) {
          await expectQueueError(store.enqueue({ agent: 'alice', body: 'p', priority }), 'invalid_priority');
        }
        expect((await snapshot(store)).list).toEqual([]);
        expect((await enq(store, { body: 'min', priority: 0 })).priority).toBe(0);
        expect((await enq(store, { body: 'max', priority: 200 })).priority).toBe(200);
      });

      it('rejects with queue_full above the store maxDepth; the error leaves the queue unchanged', async () => {
        const store = await open({ maxDepth: 3 });
        for (let i = 0; i < 3; i++) await enq(store, { body: `m${i}` });
        const before = await snapshot(store);
        await expectQueueError(store.enqueue({ agent: 'alice', body: 'one too many' }), 'queue_full');
        expect(await snapshot(store)).toEqual(before);
        // The limit is per agent.
        await enq(store, { agent: 'bob', body: 'bob is fine' });
      });

      it('leased and delivered messages count against the depth; confirmed ones do not', async () => {
        const store = await open({ maxDepth: 2 });
        await enq(store, { body: 'a' });
        await enq(store, { body: 'b' });
        await deliver(store, 'alice', 's1'); // a: delivered
        await claimOne(store); // b: leased
        await expectQueueError(store.enqueue({ agent: 'alice', body: 'c' }), 'queue_full');
        expect(await store.confirm('alice', { sessionId: 's1' })).toBe(1);
        await enq(store, { body: 'c' });
      });

      it('failed messages count against the depth', async () => {
        const store = await open({ maxDepth: 1 });
        await enq(store, { body: 'a' });
        const m = await claimOne(store);
        expect(await store.fail({ leaseToken: m.leaseToken!, error: 'boom' })).toBe(1);
        await expectQueueError(store.enqueue({ agent: 'alice', body: 'b' }), 'queue_full');
      });

      it('agent maxDepth overrides the store limit (both smaller and larger)', async () => {
        const store = await open({ maxDepth: 3 }, [
          { name: 'alice', profile: 'claude-code', maxDepth: 1 },
          { name: 'bob', profile: 'shell', maxDepth: 5 },
        ]);
        await enq(store, { body: 'a1' });
        await expectQueueError(store.enqueue({ agent: 'alice', body: 'a2' }), 'queue_full');
        for (let i = 0; i < 5; i++) await enq(store, { agent: 'bob', body: `b${i}` });
        await expectQueueError(store.enqueue({ agent: 'bob', body: 'b5' }), 'queue_full');
        // Changing it later through updateAgent applies too.
        await store.updateAgent('alice', { maxDepth: 2 });
        await enq(store, { body: 'a2' });
        await expectQueueError(store.enqueue({ agent: 'alice', body: 'a3' }), 'queue_full');
      });

      it('idempotency key: same (agent, key) returns the existing message and adds nothing', async () => {
        const store = await open();
        const first = await store.enqueue({ agent: 'alice', body: 'original', key: 'deploy-42', priority: 10 });
        expect(first.created).toBe(true);
        now += 5_000;
        const second = await store.enqueue({ agent: 'alice', body: 'different body', key: 'deploy-42', priority: 99 });
        expect(second.created).toBe(false);
        expect(second.message.id).toBe(first.message.id);
        expect(second.message.body).toBe('original');
        expect(second.message.priority).toBe(10);
        expect(second.message).toEqual(await store.get(first.message.id));
        expect(await store.list({ agent: 'alice', limit: 100 })).toHaveLength(1);
      });

      it('idempotency key is scoped per agent', async () => {
        const store = await open();
        const a = await store.enqueue({ agent: 'alice', body: 'x', key: 'k' });
        const b = await store.enqueue({ agent: 'bob', body: 'x', key: 'k' });
        expect(a.created).toBe(true);
        expect(b.created).toBe(true);
        expect(b.message.id).not.toBe(a.message.id);
        expect((await store.stats()).totals.queued).toBe(2);
      });
    });

    describe('enqueue (depth and keys)', () => {
      it('a repeated idempotency key returns the existing message even when the queue is full', async () => {
        const store = await open({ maxDepth: 1 });
        const first = await store.enqueue({ agent: 'alice', body: 'x', key: 'only' });
        const again = await store.enqueue({ agent: 'alice', body: 'x', key: 'only' });
        expect(again.created).toBe(false);
        expect(again.message.id).toBe(first.message.id);
        await expectQueueError(store.enqueue({ agent: 'alice', body: 'y', key: 'other' }), 'queue_full');
      });

      it('a repeated key inside one batch yields one message', async () => {
        const store = await open();
        const res = await store.enqueueBatch([
          { agent: 'alice', body: 'a', key: 'same' },
          { agent: 'alice', body: 'b', key: 'same' },
        ]);
        expect(res.map((r) => r.created)).toEqual([true, false]);
        expect(res[1]!.message.id).toBe(res[0]!.message.id);
        expect(await store.list({ agent: 'alice' })).toHaveLength(1);
      });

      it('cancelled, expired and dead messages free their depth slot; retry takes it again', async () => {
        const store = await open({ maxDepth: 1 });
        const a = await enq(store, { body: 'a' });
        await store.cancel([a.id]);
        const b = await enq(store, { body: 'b', ttlMs: 10 });
        now += 10;
        await store.sweep();
        expect(await stateOf(store, b.id)).toBe('expired');
        const c = await enq(store, { body: 'c' });
        const cl = await claimOne(store);
        expect(cl.id).toBe(c.id);
        await store.fail({ leaseToken: cl.leaseToken!, error: 'poison', retryable: false });
        expect(await stateOf(store, c.id)).toBe('dead');
        const d = await enq(store, { body: 'd' });
        await expectQueueError(store.enqueue({ agent: 'alice', body: 'e' }), 'queue_full');
        // Retrying a finished message while the queue is full would exceed the depth.
        await expectQueueError(store.retry([a.id]), 'queue_full');
        expect(await stateOf(store, a.id)).toBe('cancelled');
        await store.cancel([d.id]);
        expect((await store.retry([a.id]))[0]!.state).toBe('queued');
        await expectQueueError(store.enqueue({ agent: 'alice', body: 'e' }), 'queue_full');
      });
    });

    // ------------------------------------------------------------------ enqueueBatch

    describe('enqueueBatch', () => {
      it('stores all inputs in order', async () => {
        const store = await open();
        const res = await store.enqueueBatch([
          { agent: 'alice', body: 'one' },
          { agent: 'bob', body: 'two', priority: 50 },
          { agent: 'alice', body: 'three', key: 'k3' },
        ]);
        expect(res.map((r) => r.message.body)).toEqual(['one', 'two', 'three']);
        expect(res.every((r) => r.created)).toBe(true);
        expect(res[1]!.message.seq).toBeGreaterThan(res[0]!.message.seq);
        expect(res[2]!.message.seq).toBeGreaterThan(res[1]!.message.seq);
        expect((await store.stats()).totals.queued).toBe(3);
      });

      it('is all-or-nothing: one invalid input rejects the batch and stores nothing', async () => {
        const store = await open();
        await expectQueueError(
          store.enqueueBatch([
            { agent: 'alice', body: 'fine' },
            { agent: 'bob', body: 'fine too' },
            { agent: 'alice', body: '   ' },
          ]),
          'empty_body',
        );
        await expectQueueError(
          store.enqueueBatch([
            { agent: 'alice', body: 'fine' },
            { agent: 'ghost', body: 'unknown agent' },
          ]),
          'unknown_agent',
        );
        await expectQueueError(
          store.enqueueBatch([
            { agent: 'alice', body: 'fine' },
            { agent: 'alice', body: 'bad', priority: 300 },
          ]),
          'invalid_priority',
        );
        const { list, totals } = await snapshot(store);
        expect(list).toEqual([]);
        expect(totals).toEqual(zeroCounts());
      });

      it('is all-or-nothing when the batch overflows the depth limit', async () => {
        const store = await open({ maxDepth: 2 });
        await expectQueueError(
          store.enqueueBatch([
            { agent: 'alice', body: '1' },
            { agent: 'alice', body: '2' },
            { agent: 'alice', body: '3' },
          ]),
          'queue_full',
        );
        expect(await store.list({ limit: 100 })).toEqual([]);
      });
    });

    // ------------------------------------------------------------------ claim

    describe('claim', () => {
      it('returns [] on an empty queue', async () => {
        const store = await open();
        expect(await store.claim('alice', { owner: 'o', leaseMs: LEASE })).toEqual([]);
      });

      it('leases one message by default with token, owner, expiry and attempt', async () => {
        const store = await open();
        const m = await enq(store, { body: 'hello' });
        await enq(store, { body: 'second' });
        const claimed = await store.claim('alice', { owner: 'hook:PostToolUse:s1', leaseMs: 45_000 });
        expect(claimed).toHaveLength(1);
        const c = claimed[0]!;
        expect(c.id).toBe(m.id);
        expect(c.state).toBe('leased');
        expect(c.attempts).toBe(1);
        expect(c.leaseToken).toEqual(expect.any(String));
        expect(c.leaseToken!.length).toBeGreaterThan(0);
        expect(c.leaseOwner).toBe('hook:PostToolUse:s1');
        expect(c.leaseExpiresAt).toBe(T0 + 45_000);
        const stored = await store.get(m.id);
        expect(stored).toMatchObject({
          state: 'leased',
          attempts: 1,
          leaseToken: c.leaseToken,
          leaseOwner: 'hook:PostToolUse:s1',
          leaseExpiresAt: T0 + 45_000,
        });
      });

      it('claims up to limit messages in delivery order, sharing one lease token', async () => {
        const store = await open();
        const low1 = await enq(store, { body: 'low1', priority: 1 });
        const norm1 = await enq(store, { body: 'norm1' });
        const high = await enq(store, { body: 'high', priority: 20 });
        const norm2 = await enq(store, { body: 'norm2' });
        const claimed = await store.claim('alice', { owner: 'o', leaseMs: LEASE, limit: 3 });
        expect(claimed.map((m) => m.id)).toEqual([high.id, norm1.id, norm2.id]);
        const tokens = new Set(claimed.map((m) => m.leaseToken));
        expect(tokens.size).toBe(1);
        expect([...tokens][0]).toEqual(expect.any(String));
        expect(claimed.every((m) => m.state === 'leased' && m.attempts === 1 && m.leaseOwner === 'o')).toBe(true);
        // A bigger limit than available returns what is left.
        const rest = await store.claim('alice', { owner: 'o', leaseMs: LEASE, limit: 10 });
        expect(rest.map((m) => m.id)).toEqual([low1.id]);
        expect(rest[0]!.leaseToken).not.toBe(claimed[0]!.leaseToken);
      });

      it("lease tokens travel in the hook clients' ack header (also for the longest agent name) and ack through it", async () => {
        const store = await open();
        const name = 'a-very_long-agent-name-of-32-chr';
        expect(name).toHaveLength(32);
        await store.registerAgents([{ name, profile: 'demo' }]);
        const m = await enq(store, { agent: name, body: 'hello' });
        const [c] = await store.claim(name, { owner: 'hook:PostToolUse:s1', leaseMs: LEASE });
        const header = parseAckHeader(`${c!.leaseToken!} ${c!.id}`);
        expect(header, `lease token ${c!.leaseToken} does not fit X-Hornets-Ack`).toEqual({ leaseToken: c!.leaseToken, ids: [m.id] });
        expect(await store.ack({ leaseToken: header!.leaseToken, ids: header!.ids, agent: name })).toBe(1);
      });

      it('orders by priority desc, then FIFO within a priority', async () => {
        const store = await open();
        const specs = [5, 200, 0, 50, 5, 100, 10, 50, 200, 0];
        const msgs: Message[] = [];
        for (const [i, priority] of specs.entries()) msgs.push(await enq(store, { body: `m${i}`, priority }));
        const expected = msgs
          .map((m, i) => ({ m, i }))
          .sort((a, b) => b.m.priority - a.m.priority || a.i - b.i)
          .map(({ m }) => m.id);
        const got: string[] = [];
        for (let i = 0; i < specs.length; i++) got.push((await claimOne(store)).id);
        expect(got).toEqual(expected);
        expect(await store.claim('alice', { owner: 'o', leaseMs: LEASE })).toEqual([]);
      });

      it('never claims a leased message twice, and only claims the given agent', async () => {
        const store = await open();
        const a = await enq(store, { body: 'for alice' });
        await enq(store, { agent: 'bob', body: 'for bob' });
        const first = await claimOne(store, 'alice');
        expect(first.id).toBe(a.id);
        expect(await store.claim('alice', { owner: 'o2', leaseMs: LEASE })).toEqual([]);
        expect((await store.get(a.id)).leaseToken).toBe(first.leaseToken);
        const b = await claimOne(store, 'bob');
        expect(b.agent).toBe('bob');
      });

      it('does not deliver to a paused agent unless ignorePause', async () => {
        const store = await open();
        const m = await enq(store, { body: 'wait' });
        await store.transitionAgent('alice', { type: 'pause' });
        expect(await store.claim('alice', { owner: 'o', leaseMs: LEASE })).toEqual([]);
        expect(await stateOf(store, m.id)).toBe('queued');
        expect((await store.get(m.id)).attempts).toBe(0);
        const forced = await store.claim('alice', { owner: 'o', leaseMs: LEASE, ignorePause: true });
        expect(forced.map((x) => x.id)).toEqual([m.id]);
        // Unpausing resumes normal claims.
        const m2 = await enq(store, { body: 'after' });
        await store.transitionAgent('alice', { type: 'resume' });
        expect((await claimOne(store)).id).toBe(m2.id);
      });

      it('200 concurrent claims over 100 messages hand out each message exactly once', async () => {
        const store = await open();
        await store.enqueueBatch(Array.from({ length: 100 }, (_, i) => ({ agent: 'alice', body: `m${i}` })));
        const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.claim('alice', { owner: `w${i}`, leaseMs: LEASE })));
        const ids = results.flat().map((m) => m.id);
        expect(ids).toHaveLength(100);
        expect(new Set(ids).size).toBe(100);
        expect(results.filter((r) => r.length === 0)).toHaveLength(100);
        const tokens = results.flat().map((m) => m.leaseToken);
        expect(new Set(tokens).size).toBe(100);
        expect((await store.stats()).totals.leased).toBe(100);
        expect((await store.stats()).totals.queued).toBe(0);
      });

      it('property: 300 random priorities are delivered in stable (priority desc, enqueue order)', async () => {
        const store = await open();
        const rnd = mulberry32(0xc0ffee);
        const bands = [0, 5, 5, 5, 10, 20, 49, 50, 99, 100, 200];
        const inputs: Array<{ body: string; priority: number }> = [];
        for (let i = 0; i < 300; i++) {
          // Mostly a few common priorities (many ties), sometimes any valid value.
          const priority = rnd() < 0.7 ? bands[Math.floor(rnd() * bands.length)]! : Math.floor(rnd() * 201);
          inputs.push({ body: `msg-${i}`, priority });
        }
        // Interleave single enqueues and a batch, and another agent's messages as noise.
        const ids: string[] = [];
        for (const [i, input] of inputs.slice(0, 150).entries()) {
          ids.push((await enq(store, input)).id);
          if (i % 10 === 0) await enq(store, { agent: 'bob', body: `noise-${i}`, priority: 200 });
        }
        const batch = await store.enqueueBatch(inputs.slice(150).map((x) => ({ agent: 'alice', ...x })));
        ids.push(...batch.map((r) => r.message.id));

        const expected = inputs
          .map((input, i) => ({ id: ids[i]!, priority: input.priority, i }))
          .sort((a, b) => b.priority - a.priority || a.i - b.i)
          .map((x) => x.id);
        const got: string[] = [];
        for (;;) {
          const c = await store.claim('alice', { owner: 'prop', leaseMs: LEASE });
          if (c.length === 0) break;
          expect(c).toHaveLength(1);
          got.push(c[0]!.id);
          if (got.length > 300) break;
        }
        expect(got).toEqual(expected);
        // The other agent's messages were not touched.
        expect((await store.list({ agent: 'bob', states: ['queued'], limit: 1000 })).length).toBe(15);
      });
    });

    // ------------------------------------------------------------------ ack / fail / release

    describe('ack', () => {
      it('moves leased -> delivered with deliveredAt and sessionId, returns the count', async () => {
        const store = await open();
        await enq(store, { body: 'a' });
        await enq(store, { body: 'b' });
        const claimed = await store.claim('alice', { owner: 'o', leaseMs: LEASE, limit: 2 });
        now += 1_234;
        expect(await store.ack({ leaseToken: claimed[0]!.leaseToken!, sessionId: 'sess-A' })).toBe(2);
        for (const c of claimed) {
          const m = await store.get(c.id);
          expect(m.state).toBe('delivered');
          expect(m.deliveredAt).toBe(T0 + 1_234);
          expect(m.sessionId).toBe('sess-A');
          expect(m.attempts).toBe(1);
        }
      });

      it('ids restricts the ack to part of the lease', async () => {
        const store = await open();
        await enq(store, { body: 'a' });
        await enq(store, { body: 'b' });
        const [a, b] = await store.claim('alice', { owner: 'o', leaseMs: LEASE, limit: 2 });
        expect(await store.ack({ leaseToken: a!.leaseToken!, ids: [a!.id], sessionId: 's' })).toBe(1);
        expect(await stateOf(store, a!.id)).toBe('delivered');
        expect(await stateOf(store, b!.id)).toBe('leased');
        expect(await store.ack({ leaseToken: b!.leaseToken!, ids: [b!.id] })).toBe(1);
        expect(await stateOf(store, b!.id)).toBe('delivered');
      });

      it('is fenced: a wrong token changes nothing', async () => {
        const store = await open();
        await enq(store, { body: 'a' });
        const c = await claimOne(store);
        const before = await store.get(c.id);
        expect(await store.ack({ leaseToken: 'not-the-token', sessionId: 's' })).toBe(0);
        expect(await store.ack({ leaseToken: `${c.leaseToken}x` })).toBe(0);
        expect(await store.get(c.id)).toEqual(before);
      });

      it('is fenced: an ack after the lease expired returns 0 and does not deliver', async () => {
        const store = await open();
        await enq(store, { body: 'a' });
        const c = await claimOne(store, 'alice', 10_000);
        now = c.leaseExpiresAt!; // now >= leaseExpiresAt: expired
        expect(await store.ack({ leaseToken: c.leaseToken!, sessionId: 's' })).toBe(0);
        const m = await store.get(c.id);
        expect(m.state).not.toBe('delivered');
        expect(m.deliveredAt).toBeNull();
      });

      it('an ack just before expiry still succeeds', async () => {
        const store = await open();
        await enq(store, { body: 'a' });
        const c = await claimOne(store, 'alice', 10_000);
        now = c.leaseExpiresAt! - 1;
        expect(await store.ack({ leaseToken: c.leaseToken! })).toBe(1);
      });

      it('a second ack with the same token returns 0', async () => {
        const store = await open();
        await enq(store, { body: 'a' });
        const c = await claimOne(store);
        expect(await store.ack({ leaseToken: c.leaseToken!, sessionId: 's1' })).toBe(1);
        now += 10;
        expect(await store.ack({ leaseToken: c.leaseToken!, sessionId: 's2' })).toBe(0);
        const m = await store.get(c.id);
        expect(m.sessionId).toBe('s1');
        expect(m.deliveredAt).toBe(T0);
      });
    });

    describe('fail', () => {
      it('moves leased -> failed with lastError and backoff from retryDelayMs', async () => {
        const store = await open({ backoffBaseMs: 1_000, backoffMaxMs: 4_000 });
        const m = await enq(store, { body: 'x', maxAttempts: 10 });
        const policy = { baseMs: 1_000, maxMs: 4_000 };
        // retryDelayMs with random 0.5: 750, 1500, 3000, 3000 (capped).
        const expectedDelays = [750, 1_500, 3_000, 3_000];
        for (const [i, hardcoded] of expectedDelays.entries()) {
          const attempt = i + 1;
          expect(retryDelayMs(attempt, policy, () => 0.5)).toBe(hardcoded);
          const c = await claimOne(store);
          expect(c.attempts).toBe(attempt);
          expect(await store.fail({ leaseToken: c.leaseToken!, error: `boom ${attempt}` })).toBe(1);
          const f = await store.get(m.id);
          expect(f.state).toBe('failed');
          expect(f.lastError).toBe(`boom ${attempt}`);
          expect(f.availableAt).toBe(now + hardcoded);
          // Not claimable before availableAt, claimable at it.
          now = f.availableAt - 1;
          expect(await store.claim('alice', { owner: 'o', leaseMs: LEASE })).toEqual([]);
          expect(await stateOf(store, m.id)).toBe('failed');
          now = f.availableAt;
          if (attempt < expectedDelays.length) continue;
          const again = await claimOne(store);
          expect(again.id).toBe(m.id);
          expect(again.attempts).toBe(attempt + 1);
        }
      });

      it('uses the default backoff limits when none are given', async () => {
        const store = await open();
        await enq(store, { body: 'x' });
        const c = await claimOne(store);
        await store.fail({ leaseToken: c.leaseToken!, error: 'e' });
        const f = await store.get(c.id);
        const delay = retryDelayMs(1, { baseMs: defaultQueueLimits.backoffBaseMs, maxMs: defaultQueueLimits.backoffMaxMs }, () => 0.5);
        expect(delay).toBe(1_500);
        expect(f.availableAt).toBe(T0 + delay);
      });

      it('a failed message waiting for backoff does not block other messages', async () => {
        const store = await open();
        const hi = await enq(store, { body: 'hi', priority: 50 });
        const lo = await enq(store, { body: 'lo', priority: 1 });
        const c = await claimOne(store);
        expect(c.id).toBe(hi.id);
        await store.fail({ leaseToken: c.leaseToken!, error: 'e' });
        expect((await claimOne(store)).id).toBe(lo.id);
      });

      it('dead-letters when attempts reach maxAttempts, with the error in deadReason', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x', maxAttempts: 2 });
        const c1 = await claimOne(store);
        await store.fail({ leaseToken: c1.leaseToken!, error: 'first failure' });
        expect(await stateOf(store, m.id)).toBe('failed');
        now = (await store.get(m.id)).availableAt;
        const c2 = await claimOne(store);
        expect(c2.attempts).toBe(2);
        expect(await store.fail({ leaseToken: c2.leaseToken!, error: 'second failure XYZ' })).toBe(1);
        const d = await store.get(m.id);
        expect(d.state).toBe('dead');
        expect(d.deadReason).toEqual(expect.any(String));
        expect(d.deadReason).toContain('second failure XYZ');
        now += 10_000_000;
        expect(await store.claim('alice', { owner: 'o', leaseMs: LEASE })).toEqual([]);
      });

      it('retryable: false dead-letters at once', async () => {
        const store = await open();
        const m = await enq(store, { body: 'poison' });
        const c = await claimOne(store);
        expect(await store.fail({ leaseToken: c.leaseToken!, error: 'cannot parse', retryable: false })).toBe(1);
        const d = await store.get(m.id);
        expect(d.state).toBe('dead');
        expect(d.attempts).toBe(1);
        expect(d.deadReason).toContain('cannot parse');
      });

      it('is fenced: a wrong token returns 0 and changes nothing', async () => {
        const store = await open();
        await enq(store, { body: 'x' });
        const c = await claimOne(store);
        const before = await store.get(c.id);
        expect(await store.fail({ leaseToken: 'wrong', error: 'e' })).toBe(0);
        expect(await store.get(c.id)).toEqual(before);
        // And a fail after an ack does nothing.
        await store.ack({ leaseToken: c.leaseToken! });
        expect(await store.fail({ leaseToken: c.leaseToken!, error: 'late' })).toBe(0);
        expect(await stateOf(store, c.id)).toBe('delivered');
      });
    });

    describe('release', () => {
      it('returns leased -> queued without spending an attempt', async () => {
        const store = await open();
        const a = await enq(store, { body: 'a' });
        const b = await enq(store, { body: 'b' });
        const claimed = await store.claim('alice', { owner: 'o', leaseMs: LEASE, limit: 2 });
        expect(await store.release({ leaseToken: claimed[0]!.leaseToken! })).toBe(2);
        for (const id of [a.id, b.id]) {
          const m = await store.get(id);
          expect(m.state).toBe('queued');
          expect(m.attempts).toBe(0);
        }
        // Same order as before, claimable immediately.
        const again = await store.claim('alice', { owner: 'o', leaseMs: LEASE, limit: 2 });
        expect(again.map((m) => m.id)).toEqual([a.id, b.id]);
        expect(again.every((m) => m.attempts === 1)).toBe(true);
      });

      it('release with ids releases only those; wrong token returns 0', async () => {
        const store = await open();
        await enq(store, { body: 'a' });
        await enq(store, { body: 'b' });
        const [a, b] = await store.claim('alice', { owner: 'o', leaseMs: LEASE, limit: 2 });
        expect(await store.release({ leaseToken: 'nope' })).toBe(0);
        expect(await store.release({ leaseToken: a!.leaseToken!, ids: [b!.id] })).toBe(1);
        expect(await stateOf(store, a!.id)).toBe('leased');
        expect(await stateOf(store, b!.id)).toBe('queued');
        // The released id cannot be acked with the old token any more.
        expect(await store.ack({ leaseToken: a!.leaseToken!, ids: [b!.id] })).toBe(0);
        expect(await store.ack({ leaseToken: a!.leaseToken! })).toBe(1);
        expect(await stateOf(store, a!.id)).toBe('delivered');
        expect(await stateOf(store, b!.id)).toBe('queued');
      });
    });

    // ------------------------------------------------------------------ lease expiry, TTL, sweep

    describe('lease expiry', () => {
      it('sweep reclaims an expired lease to failed, counting the attempt', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x' });
        const c = await claimOne(store, 'alice', 5_000);

        now += 4_999;
        expect(await store.sweep()).toEqual({ expired: 0, leasesReclaimed: 0, dead: 0 });
        expect(await stateOf(store, m.id)).toBe('leased');

        now += 1; // now == leaseExpiresAt
        expect(await store.sweep()).toEqual({ expired: 0, leasesReclaimed: 1, dead: 0 });
        const f = await store.get(m.id);
        expect(f.state).toBe('failed');
        expect(f.attempts).toBe(1);
        expect(f.lastError).toMatch(/lease/i);
        expect(f.availableAt).toBeLessThanOrEqual(now);
        // The old lease is dead.
        expect(await store.ack({ leaseToken: c.leaseToken! })).toBe(0);
        // Claimable again immediately.
        const again = await claimOne(store);
        expect(again.id).toBe(m.id);
        expect(again.attempts).toBe(2);
        expect(again.leaseToken).not.toBe(c.leaseToken);
      });

      it('the next claim for the agent reclaims an expired lease and hands it out again', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x' });
        const c = await claimOne(store, 'alice', 5_000);
        now += 5_000;
        const again = await store.claim('alice', { owner: 'o2', leaseMs: 5_000 });
        expect(again.map((x) => x.id)).toEqual([m.id]);
        expect(again[0]!.attempts).toBe(2);
        expect(again[0]!.leaseOwner).toBe('o2');
        expect(again[0]!.leaseToken).not.toBe(c.leaseToken);
        expect(await store.ack({ leaseToken: c.leaseToken! })).toBe(0);
        expect(await store.ack({ leaseToken: again[0]!.leaseToken! })).toBe(1);
        const events = await store.events({ messageId: m.id });
        expectSubsequence(
          events.map((e) => e.toState),
          ['queued', 'leased', 'failed', 'leased', 'delivered'],
        );
        expect(events.find((e) => e.toState === 'failed')).toBeDefined();
      });

      it('a reclaimed expired lease keeps its priority position', async () => {
        const store = await open();
        const hi = await enq(store, { body: 'hi', priority: 50 });
        const lo = await enq(store, { body: 'lo', priority: 1 });
        await claimOne(store, 'alice', 5_000);
        now += 5_000;
        const got = await store.claim('alice', { owner: 'o', leaseMs: 5_000, limit: 2 });
        expect(got.map((m) => m.id)).toEqual([hi.id, lo.id]);
      });

      it('after maxAttempts expired leases the message is dead', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x', maxAttempts: 2 });
        await claimOne(store, 'alice', 1_000);
        now += 1_000;
        const second = await claimOne(store, 'alice', 1_000);
        expect(second.attempts).toBe(2);
        now += 1_000;
        expect(await store.claim('alice', { owner: 'o', leaseMs: 1_000 })).toEqual([]);
        const d = await store.get(m.id);
        expect(d.state).toBe('dead');
        expect(d.deadReason).toEqual(expect.any(String));
        expect(d.deadReason!.length).toBeGreaterThan(0);
      });

      it('sweep dead-letters a lease that expires on the last attempt', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x', maxAttempts: 1 });
        await claimOne(store, 'alice', 1_000);
        now += 1_000;
        const res = await store.sweep();
        expect(res.dead).toBe(1);
        expect(res.expired).toBe(0);
        expect(res.leasesReclaimed).toBeLessThanOrEqual(1);
        const d = await store.get(m.id);
        expect(d.state).toBe('dead');
        expect(d.deadReason!.length).toBeGreaterThan(0);
        expect(await store.sweep()).toEqual({ expired: 0, leasesReclaimed: 0, dead: 0 });
      });

      it('sweep reclaims leases across all agents', async () => {
        const store = await open();
        await enq(store, { body: 'a' });
        await enq(store, { agent: 'bob', body: 'b' });
        await claimOne(store, 'alice', 1_000);
        await claimOne(store, 'bob', 1_000);
        now += 1_000;
        expect(await store.sweep()).toEqual({ expired: 0, leasesReclaimed: 2, dead: 0 });
        expect((await store.stats()).totals.failed).toBe(2);
      });
    });

    describe('TTL', () => {
      it('sets expiresAt = now + ttlMs; a message is claimable until it expires', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x', ttlMs: 5_000 });
        expect(m.expiresAt).toBe(T0 + 5_000);
        now += 4_999;
        expect((await claimOne(store)).id).toBe(m.id);
      });

      it('an expired message is never claimed and becomes expired on claim', async () => {
        const store = await open();
        const short = await enq(store, { body: 'short-lived', ttlMs: 5_000, priority: 100 });
        const keep = await enq(store, { body: 'no ttl' });
        now += 5_000;
        const got = await store.claim('alice', { owner: 'o', leaseMs: LEASE, limit: 5 });
        expect(got.map((m) => m.id)).toEqual([keep.id]);
        expect(await stateOf(store, short.id)).toBe('expired');
      });

      it('sweep expires TTL messages of every agent', async () => {
        const store = await open();
        const a = await enq(store, { body: 'a', ttlMs: 1_000 });
        const b = await enq(store, { agent: 'bob', body: 'b', ttlMs: 2_000 });
        now += 1_000;
        expect(await store.sweep()).toEqual({ expired: 1, leasesReclaimed: 0, dead: 0 });
        expect(await stateOf(store, a.id)).toBe('expired');
        expect(await stateOf(store, b.id)).toBe('queued');
        now += 1_000;
        expect(await store.sweep()).toEqual({ expired: 1, leasesReclaimed: 0, dead: 0 });
        expect(await stateOf(store, b.id)).toBe('expired');
        now += 1_000_000;
        expect(await store.claim('bob', { owner: 'o', leaseMs: LEASE })).toEqual([]);
      });

      it('a leased message whose TTL and lease have both passed becomes expired on sweep', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x', ttlMs: 10_000 });
        await claimOne(store, 'alice', 5_000);
        now += 20_000;
        const res = await store.sweep();
        expect(await stateOf(store, m.id)).toBe('expired');
        expect(res.expired).toBe(1);
        expect(await store.claim('alice', { owner: 'o', leaseMs: LEASE })).toEqual([]);
      });

      it('a leased message whose TTL and lease have both passed becomes expired on claim', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x', ttlMs: 10_000 });
        await claimOne(store, 'alice', 5_000);
        now += 20_000;
        expect(await store.claim('alice', { owner: 'o', leaseMs: LEASE })).toEqual([]);
        expect(await stateOf(store, m.id)).toBe('expired');
      });

      it('a failed message whose TTL passes during backoff expires instead of being retried', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x', ttlMs: 1_000 });
        const c = await claimOne(store);
        await store.fail({ leaseToken: c.leaseToken!, error: 'e' }); // availableAt = T0 + 1500
        now += 2_000;
        expect(await store.claim('alice', { owner: 'o', leaseMs: LEASE })).toEqual([]);
        expect(await stateOf(store, m.id)).toBe('expired');
      });
    });

    // ------------------------------------------------------------------ confirm / requeue

    describe('confirm', () => {
      it('confirms delivered messages of one session only', async () => {
        const store = await open();
        await enq(store, { body: 'one' });
        await enq(store, { body: 'two' });
        await enq(store, { body: 'three' });
        const m1 = await deliver(store, 'alice', 's1');
        const m2 = await deliver(store, 'alice', 's2');
        const leased = await claimOne(store); // leased, not delivered
        now += 700;
        expect(await store.confirm('alice', { sessionId: 's1' })).toBe(1);
        const c1 = await store.get(m1.id);
        expect(c1.state).toBe('confirmed');
        expect(c1.confirmedAt).toBe(T0 + 700);
        expect(await stateOf(store, m2.id)).toBe('delivered');
        expect((await store.get(m2.id)).confirmedAt).toBeNull();
        expect(await stateOf(store, leased.id)).toBe('leased');
        // Without a session: all delivered messages of the agent.
        expect(await store.confirm('alice')).toBe(1);
        expect(await stateOf(store, m2.id)).toBe('confirmed');
        expect(await stateOf(store, leased.id)).toBe('leased');
        expect(await store.confirm('alice')).toBe(0);
      });

      it('only confirms messages of the given agent', async () => {
        const store = await open();
        await enq(store, { body: 'a' });
        await enq(store, { agent: 'bob', body: 'b' });
        const a = await deliver(store, 'alice', 's');
        const b = await deliver(store, 'bob', 's');
        expect(await store.confirm('bob', { sessionId: 's' })).toBe(1);
        expect(await stateOf(store, a.id)).toBe('delivered');
        expect(await stateOf(store, b.id)).toBe('confirmed');
      });
    });

    describe('requeueUnconfirmed', () => {
      it('requeues delivered-unconfirmed messages of the session as redeliveries, keeping id and position', async () => {
        const store = await open();
        const m1 = await enq(store, { body: 'one' });
        const m2 = await enq(store, { body: 'two' });
        const m3 = await enq(store, { body: 'three' });
        const otherSession = await enq(store, { body: 'four' });
        await deliver(store, 'alice', 's1'); // m1
        expect(await store.confirm('alice', { sessionId: 's1' })).toBe(1);
        await deliver(store, 'alice', 's1'); // m2
        await deliver(store, 'alice', 's1'); // m3
        const before2 = await store.get(m2.id);
        // m4 delivered to another session, m5 enqueued later with the same priority.
        const d4 = await claimOne(store);
        expect(d4.id).toBe(otherSession.id);
        await store.ack({ leaseToken: d4.leaseToken!, sessionId: 's2' });
        const m5 = await enq(store, { body: 'five' });

        now += 100;
        expect(await store.requeueUnconfirmed('alice', { sessionId: 's1', reason: 'session ended' })).toBe(2);
        const r2 = await store.get(m2.id);
        expect(r2.id).toBe(m2.id);
        expect(r2.state).toBe('queued');
        expect(r2.redeliveries).toBe(1);
        expect(r2.seq).toBe(before2.seq);
        expect(r2.priority).toBe(before2.priority);
        expect((await store.get(m3.id)).redeliveries).toBe(1);
        expect(await stateOf(store, m1.id)).toBe('confirmed');
        expect((await store.get(m1.id)).redeliveries).toBe(0);
        expect(await stateOf(store, otherSession.id)).toBe('delivered');

        // Claimable again, before the later message of the same priority.
        const again = await store.claim('alice', { owner: 'o', leaseMs: LEASE, limit: 3 });
        expect(again.map((m) => m.id)).toEqual([m2.id, m3.id, m5.id]);
      });

      it('dead-letters instead when the attempt budget is spent', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x', maxAttempts: 1 });
        await deliver(store, 'alice', 's1');
        await store.requeueUnconfirmed('alice', { sessionId: 's1', reason: 'crashed' });
        const d = await store.get(m.id);
        expect(d.state).toBe('dead');
        expect(d.deadReason!.length).toBeGreaterThan(0);
        expect(await store.claim('alice', { owner: 'o', leaseMs: LEASE })).toEqual([]);
      });

      it('does nothing for a session with no delivered messages', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x' });
        await deliver(store, 'alice', 's1');
        expect(await store.requeueUnconfirmed('alice', { sessionId: 'other', reason: 'r' })).toBe(0);
        expect(await store.requeueUnconfirmed('bob', { sessionId: 's1', reason: 'r' })).toBe(0);
        expect(await stateOf(store, m.id)).toBe('delivered');
      });
    });

    // ------------------------------------------------------------------ reads

    describe('get', () => {
      it('finds by exact id and by a unique prefix of at least 4 characters', async () => {
        const store = await open();
        const only = await enq(store, { body: 'x' });
        expect((await store.get(only.id)).id).toBe(only.id);
        expect((await store.get(only.id.slice(0, 4))).id).toBe(only.id);

        const others: Message[] = [only];
        for (let i = 0; i < 5; i++) others.push(await enq(store, { body: `m${i}` }));
        for (const m of others) {
          let n = 4;
          while (n < m.id.length && others.some((o) => o.id !== m.id && o.id.startsWith(m.id.slice(0, n)))) n++;
          expect((await store.get(m.id.slice(0, n))).id).toBe(m.id);
          expect((await store.get(m.id)).id).toBe(m.id);
        }
      });

      it('rejects unknown ids with not_found and prefixes shorter than 4 characters', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x' });
        await expectQueueError(store.get('zzzz-no-such-id'), 'not_found');
        await expectQueueError(store.explainContext('zzzz-no-such-id'), 'not_found');
        const err = await store.get(m.id.slice(0, 3)).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(QueueError);
      });

      it('rejects an ambiguous prefix with ambiguous_id; an exact id wins over a prefix', async () => {
        const store = await open();
        const base: Omit<ExportedMessage, 'id'> = {
          agent: 'alice',
          priority: 5,
          body: 'imported',
          sender: null,
          key: null,
          attempts: 0,
          maxAttempts: 5,
          redeliveries: 0,
          createdAt: T0,
          expiresAt: null,
          meta: null,
        };
        const ids = ['abcd0001', 'abcd0002', 'wxyz1234', 'wxyz12345'];
        const res = await store.importMessages(ids.map((id, i) => ({ line: i + 1, message: { ...base, id } })));
        expect(res.imported).toBe(4);
        await expectQueueError(store.get('abcd'), 'ambiguous_id');
        await expectQueueError(store.get('abcd000'), 'ambiguous_id');
        await expectQueueError(store.explainContext('abcd'), 'ambiguous_id');
        expect((await store.get('abcd0001')).id).toBe('abcd0001');
        expect((await store.get('abcd0002')).id).toBe('abcd0002');
        // 'wxyz1234' is both an exact id and a prefix of 'wxyz12345': the exact id wins.
        expect((await store.get('wxyz1234')).id).toBe('wxyz1234');
        expect((await store.get('wxyz12345')).id).toBe('wxyz12345');
        await expectQueueError(store.get('wxyz'), 'ambiguous_id');
        await expectQueueError(store.get('abcd0003'), 'not_found');
      });
    });

    describe('list', () => {
      it('filters by agent and states, limits, and orders by delivery or recency', async () => {
        const store = await open();
        const a1 = await enq(store, { body: 'a1', priority: 1 });
        now += 10;
        const a2 = await enq(store, { body: 'a2', priority: 50 });
        now += 10;
        const b1 = await enq(store, { agent: 'bob', body: 'b1' });
        now += 10;
        const a3 = await enq(store, { body: 'a3', priority: 50 });
        now += 10;
        const a4 = await enq(store, { body: 'a4', priority: 5 });

        expect((await store.list({ agent: 'alice', order: 'delivery' })).map((m) => m.id)).toEqual([a2.id, a3.id, a4.id, a1.id]);
        expect((await store.list({ agent: 'alice', order: 'recent' })).map((m) => m.id)).toEqual([a4.id, a3.id, a2.id, a1.id]);
        expect((await store.list({ agent: 'bob' })).map((m) => m.id)).toEqual([b1.id]);
        expect((await store.list({ agent: 'alice', order: 'delivery', limit: 2 })).map((m) => m.id)).toEqual([a2.id, a3.id]);
        expect(await store.list({ agent: 'nobody' })).toEqual([]);
        expect((await store.list()).map((m) => m.id).sort()).toEqual([a1.id, a2.id, a3.id, a4.id, b1.id].sort());

        const c = await claimOne(store); // a2
        expect(c.id).toBe(a2.id);
        expect((await store.list({ states: ['leased'] })).map((m) => m.id)).toEqual([a2.id]);
        expect((await store.list({ agent: 'alice', states: ['queued'], order: 'delivery' })).map((m) => m.id)).toEqual([a3.id, a4.id, a1.id]);
        expect((await store.list({ states: ['queued', 'leased'], agent: 'bob' })).map((m) => m.id)).toEqual([b1.id]);
        expect(await store.list({ states: ['dead'] })).toEqual([]);
      });
    });

    describe('waitingByBand', () => {
      it('counts queued and failed-to-retry messages per agent and priority band, at the band edges; leased and delivered ones are not waiting', async () => {
        const store = await open();
        if (!store.waitingByBand) return expect(store.backend).toBe('none of the conformance backends lacks waitingByBand');
        for (const p of [0, 9, 9, 10, 49, 50, 99, 100, 199, 200]) await enq(store, { body: `p${p}`, priority: p });
        await enq(store, { agent: 'bob', body: 'b', priority: 20 });
        const sorted = async () => (await store.waitingByBand!()).sort((a, b) => (a.agent + a.band < b.agent + b.band ? -1 : 1));
        expect(await sorted()).toEqual([
          { agent: 'alice', band: 'critical', n: 2 },
          { agent: 'alice', band: 'emergency', n: 2 },
          { agent: 'alice', band: 'high', n: 2 },
          { agent: 'alice', band: 'normal', n: 3 },
          { agent: 'alice', band: 'rebrief', n: 1 },
          { agent: 'bob', band: 'high', n: 1 },
        ]);
        // The highest first: the rebrief one is claimed, then fails and waits to retry (still waiting).
        const m = await claimOne(store);
        expect(m.priority).toBe(200);
        expect((await sorted()).find((w) => w.band === 'rebrief')).toBeUndefined();
        expect(await store.fail({ leaseToken: m.leaseToken!, error: 'x' })).toBe(1);
        expect((await sorted()).find((w) => w.agent === 'alice' && w.band === 'rebrief')).toEqual({ agent: 'alice', band: 'rebrief', n: 1 });
      });
    });

    describe('stats', () => {
      it('reports per-agent counts for all 8 states, pending, and totals', async () => {
        const store = await open();
        for (let i = 0; i < 6; i++) await enq(store, { body: `a${i}` });
        await enq(store, { agent: 'bob', body: 'b0' });
        await enq(store, { agent: 'bob', body: 'b1', ttlMs: 1 });
        await deliver(store, 'alice', 's'); // a0 delivered
        await deliver(store, 'alice', 's'); // a1 delivered
        await store.confirm('alice', { sessionId: 's' }); // a0, a1 confirmed
        await deliver(store, 'alice', 's'); // a2 delivered
        await claimOne(store); // a3 leased
        const f = await claimOne(store); // a4 -> failed
        await store.fail({ leaseToken: f.leaseToken!, error: 'e' });
        const list = await store.list({ agent: 'alice', states: ['queued'] });
        await store.cancel([list[0]!.id], 'no longer needed'); // a5 cancelled
        now += 1; // b1 ttl passes
        await store.sweep();

        const stats = await store.stats();
        const alice = stats.agents.find((a) => a.agent === 'alice');
        const bob = stats.agents.find((a) => a.agent === 'bob');
        expect(alice).toBeDefined();
        expect(bob).toBeDefined();
        expect(alice!.counts).toEqual({ ...zeroCounts(), confirmed: 2, delivered: 1, leased: 1, failed: 1, cancelled: 1 });
        expect(alice!.pending).toBe(3);
        expect(bob!.counts).toEqual({ ...zeroCounts(), queued: 1, expired: 1 });
        expect(bob!.pending).toBe(1);
        expect(Object.keys(stats.totals).sort()).toEqual([...messageStates].sort());
        expect(stats.totals).toEqual({
          ...zeroCounts(),
          queued: 1,
          confirmed: 2,
          delivered: 1,
          leased: 1,
          failed: 1,
          cancelled: 1,
          expired: 1,
        });
        for (const a of stats.agents) {
          expect(Object.keys(a.counts).sort()).toEqual([...messageStates].sort());
        }
      });

      it('an empty store has zero totals for every state', async () => {
        const store = await open();
        const stats = await store.stats();
        expect(stats.totals).toEqual(zeroCounts());
        for (const a of stats.agents) {
          expect(a.counts).toEqual(zeroCounts());
          expect(a.pending).toBe(0);
        }
      });
    });

    describe('agentOverview, agentRecords', () => {
      it('only the named agents, each with its record and its counts by state (as stats has them); names not registered are left out', async () => {
        const store = await open(undefined, [
          { name: 'alice', profile: 'claude-code' },
          { name: 'bob', profile: 'shell' },
          { name: 'carol', profile: 'shell' },
        ]);
        await enq(store, { body: 'a0' });
        await enq(store, { body: 'a1' });
        await deliver(store, 'alice', 's');
        await enq(store, { agent: 'carol', body: 'c0' });
        await store.updateAgent('alice', { paneId: '%7' });

        const view = await store.agentOverview(['alice', 'bob', 'nobody']);
        expect(view.map((v) => v.record.name).sort()).toEqual(['alice', 'bob']);
        const alice = view.find((v) => v.record.name === 'alice')!;
        expect(alice.record).toEqual(await store.getAgent('alice'));
        expect(alice.counts).toEqual({ ...zeroCounts(), queued: 1, delivered: 1 });
        expect(view.find((v) => v.record.name === 'bob')!.counts).toEqual(zeroCounts());
        const stats = await store.stats();
        expect(alice.counts).toEqual(stats.agents.find((a) => a.agent === 'alice')!.counts);
        expect(await store.agentOverview([])).toEqual([]);
        // The records alone: the same, without the counts.
        expect(await store.agentRecords(['alice', 'bob', 'nobody'])).toEqual(view.map((v) => v.record));
        expect(await store.agentRecords([])).toEqual([]);
      });
    });

    describe('usage (tokens and cost)', () => {
      const entry = (messageId: string, t: Partial<UsageEntry> = {}): UsageEntry => ({ messageId, model: 'm', input: 0, output: 0, cacheRead: 0, cacheCreation: 0, costUsd: 0, ...t });

      it('adds each message once with its largest figures, keeps the transcript cursor in the same write, and lists totals per agent', async () => {
        const store = await open();
        expect(await store.agentUsage(['alice'])).toEqual([emptyUsage('alice')]);
        expect(await store.usageCursor('alice', '/t/1.jsonl')).toBeNull();
        let u = await store.recordUsage('alice', {
          entries: [
            entry('m1', { input: 10, output: 1, cacheRead: 100, costUsd: 0.5 }),
            entry('m1', { input: 10, output: 7, cacheRead: 100, costUsd: 0.75 }),
            entry('m2', { input: 3, output: 2, cacheCreation: 40, costUsd: 0.25 }),
          ],
          cursor: { file: '/t/1.jsonl', offset: 300, ino: 7 },
        });
        expect(u).toMatchObject({ agent: 'alice', input: 13, output: 9, cacheRead: 100, cacheCreation: 40, costUsd: 1, messages: 2, updatedAt: T0 });
        expect(await store.usageCursor('alice', '/t/1.jsonl')).toEqual({ file: '/t/1.jsonl', offset: 300, ino: 7 });
        // A resumed session's transcript repeats m1 and m2: only m3 is new.
        now += 1000;
        u = await store.recordUsage('alice', {
          entries: [entry('m1', { input: 10, output: 7, cacheRead: 100, costUsd: 0.75 }), entry('m2', { input: 3, output: 2, cacheCreation: 40 }), entry('m3', { output: 5 })],
          cursor: { file: '/t/2.jsonl', offset: 50, ino: 8 },
        });
        expect(u).toMatchObject({ input: 13, output: 14, cacheRead: 100, cacheCreation: 40, costUsd: 1, messages: 3, updatedAt: T0 + 1000 });
        expect(await store.usageCursor('alice', '/t/1.jsonl')).toEqual({ file: '/t/1.jsonl', offset: 300, ino: 7 });
        expect(await store.usageCursor('alice', '/t/2.jsonl')).toEqual({ file: '/t/2.jsonl', offset: 50, ino: 8 });
        // The same message id under another agent is that agent's.
        await store.recordUsage('bob', { entries: [entry('m1', { input: 1 })] });
        const all = await store.agentUsage();
        expect(all.map((a) => [a.agent, a.input]).sort()).toEqual([
          ['alice', 13],
          ['bob', 1],
        ]);
        expect((await store.agentUsage(['bob', 'nobody'])).map((a) => a.agent)).toEqual(['bob']);
        await expectQueueError(store.recordUsage('ghost', { entries: [entry('x')] }), 'unknown_agent');
      });

      it('a cursor moves back when the reader says so (a truncated transcript) without touching the totals', async () => {
        const store = await open();
        await store.recordUsage('alice', { entries: [entry('m1', { input: 5 })], cursor: { file: '/t/1.jsonl', offset: 900, ino: 1 } });
        const u = await store.recordUsage('alice', { entries: [], cursor: { file: '/t/1.jsonl', offset: 0, ino: 2 } });
        expect(u.input).toBe(5);
        expect(await store.usageCursor('alice', '/t/1.jsonl')).toEqual({ file: '/t/1.jsonl', offset: 0, ino: 2 });
      });

      it('the over-budget mark and the waiver are kept with the totals', async () => {
        const store = await open();
        await store.recordUsage('alice', { entries: [entry('m1', { costUsd: 2 })] });
        expect(await store.markBudget('alice', { overBudget: true })).toMatchObject({ overBudget: true, waivedBudget: null, costUsd: 2 });
        expect(await store.markBudget('alice', { overBudget: false, waivedBudget: '{"usd":1}' })).toMatchObject({ overBudget: false, waivedBudget: '{"usd":1}' });
        expect((await store.agentUsage(['alice']))[0]).toMatchObject({ overBudget: false, waivedBudget: '{"usd":1}', costUsd: 2 });
        // An agent with no usage yet can be marked too.
        expect(await store.markBudget('bob', { overBudget: true })).toMatchObject({ agent: 'bob', overBudget: true, messages: 0 });
        await expectQueueError(store.markBudget('ghost', { overBudget: true }), 'unknown_agent');
      });
    });

    describe('explainContext', () => {
      it('counts the waiting messages of the same agent delivered before this one', async () => {
        const store = await open();
        const a = await enq(store, { body: 'a' });
        const b = await enq(store, { body: 'b', priority: 10 });
        const c = await enq(store, { body: 'c' });
        const d = await enq(store, { body: 'd' });
        await enq(store, { agent: 'bob', body: 'bob high', priority: 200 });
        const low = await enq(store, { body: 'low', priority: 0 });

        const ex = await store.explainContext(d.id);
        expect(ex.message.id).toBe(d.id);
        expect(ex.agent?.name).toBe('alice');
        expect(ex.now).toBe(T0);
        expect(ex.ahead).toBe(3); // b, a, c
        expect((await store.explainContext(b.id)).ahead).toBe(0);
        expect((await store.explainContext(a.id)).ahead).toBe(1);
        expect((await store.explainContext(c.id)).ahead).toBe(2);
        expect((await store.explainContext(low.id)).ahead).toBe(4);
        // Prefix lookup works too.
        expect((await store.explainContext(d.id)).message.id).toBe(d.id);

        // Leased messages are no longer waiting.
        const leased = await claimOne(store);
        expect(leased.id).toBe(b.id);
        now += 50;
        const ex2 = await store.explainContext(d.id);
        expect(ex2.ahead).toBe(2);
        expect(ex2.now).toBe(T0 + 50);
      });
    });

    describe('events', () => {
      it('records every transition in order', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x' });
        const c = await claimOne(store);
        now += 1;
        await store.ack({ leaseToken: c.leaseToken!, sessionId: 's' });
        now += 1;
        await store.confirm('alice', { sessionId: 's' });
        const events = await store.events({ messageId: m.id });
        expect(events.length).toBeGreaterThanOrEqual(4);
        expect(events.every((e) => e.messageId === m.id)).toBe(true);
        const toStates = events.map((e) => e.toState).filter((s): s is string => s !== null);
        expectSubsequence(toStates, ['queued', 'leased', 'delivered', 'confirmed']);
        expect(toStates[0]).toBe('queued');
        expect(toStates[toStates.length - 1]).toBe('confirmed');
        for (let i = 1; i < events.length; i++) {
          expect(events[i]!.id).toBeGreaterThan(events[i - 1]!.id);
          expect(events[i]!.ts).toBeGreaterThanOrEqual(events[i - 1]!.ts);
        }
        const leasedEv = events.find((e) => e.toState === 'leased')!;
        expect(leasedEv.fromState).toBe('queued');
        const deliveredEv = events.find((e) => e.toState === 'delivered')!;
        expect(deliveredEv.fromState).toBe('leased');
        expect(deliveredEv.ts).toBe(T0 + 1);
      });

      it('records failures, dead-lettering, cancel and retry', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x', maxAttempts: 1 });
        const c = await claimOne(store);
        await store.fail({ leaseToken: c.leaseToken!, error: 'nope' });
        await store.retry([m.id]);
        await store.cancel([m.id], 'changed my mind');
        const toStates = (await store.events({ messageId: m.id })).map((e) => e.toState);
        expectSubsequence(toStates, ['queued', 'leased', 'dead', 'queued', 'cancelled']);
      });

      it('filters by agent and recordEvent adds one event', async () => {
        const store = await open();
        const m = await enq(store, { body: 'x' });
        await enq(store, { agent: 'bob', body: 'y' });
        const before = await store.events({ messageId: m.id });
        await store.recordEvent({ agent: 'alice', messageId: m.id, kind: 'note', detail: { why: 'testing', n: 2 } });
        const after = await store.events({ messageId: m.id });
        expect(after).toHaveLength(before.length + 1);
        const last = after[after.length - 1]!;
        expect(last.kind).toBe('note');
        expect(last.messageId).toBe(m.id);
        expect(last.agent).toBe('alice');
        expect(last.detail).toEqual({ why: 'testing', n: 2 });
        expect(last.ts).toBe(T0);

        const bobEvents = await store.events({ agent: 'bob' });
        expect(bobEvents.length).toBeGreaterThanOrEqual(1);
        expect(bobEvents.every((e) => e.agent === 'bob')).toBe(true);

        // An agent-level event with no message.
        await store.recordEvent({ agent: 'bob', kind: 'agent-restart' });
        const bobAfter = await store.events({ agent: 'bob' });
        expect(bobAfter).toHaveLength(bobEvents.length + 1);
        expect(bobAfter.some((e) => e.kind === 'agent-restart' && e.messageId === null)).toBe(true);
      });
    });

    // ------------------------------------------------------------------ cancel / retry

    describe('cancel', () => {
      it('cancels queued, failed, leased and delivered messages', async () => {
        const store = await open();
        const queued = await enq(store, { body: 'q', priority: 0 });
        const delivered = await enq(store, { body: 'd', priority: 30 });
        const leased = await enq(store, { body: 'l', priority: 20 });
        const failed = await enq(store, { body: 'f', priority: 10 });
        await deliver(store, 'alice', 's');
        const l = await claimOne(store);
        expect(l.id).toBe(leased.id);
        const f = await claimOne(store);
        expect(f.id).toBe(failed.id);
        await store.fail({ leaseToken: f.leaseToken!, error: 'e' });
        expect(await stateOf(store, failed.id)).toBe('failed');

        const ids = [queued.id, delivered.id, leased.id, failed.id];
        const res = await store.cancel(ids, 'operator said so');
        expect(res.map((m) => m.id).sort()).toEqual([...ids].sort());
        expect(res.every((m) => m.state === 'cancelled')).toBe(true);
        for (const id of ids) expect(await stateOf(store, id)).toBe('cancelled');
        // The cancelled lease is fenced off.
        expect(await store.ack({ leaseToken: l.leaseToken! })).toBe(0);
        expect(await stateOf(store, leased.id)).toBe('cancelled');
        // Nothing is claimable.
        now += 10_000_000;
        expect(await store.claim('alice', { owner: 'o', leaseMs: LEASE })).toEqual([]);
      });

      it('cancelling a terminal message rejects with invalid_state and changes nothing', async () => {
        const store = await open();
        const confirmed = await enq(store, { body: 'c' });
        await deliver(store, 'alice', 's');
        await store.confirm('alice');
        const dead = await enq(store, { body: 'd' });
        const dl = await claimOne(store);
        await store.fail({ leaseToken: dl.leaseToken!, error: 'x', retryable: false });
        const expired = await enq(store, { body: 'e', ttlMs: 1 });
        now += 1;
        await store.sweep();
        const cancelled = await enq(store, { body: 'k' });
        await store.cancel([cancelled.id]);
        expect(await stateOf(store, confirmed.id)).toBe('confirmed');
        expect(await stateOf(store, dead.id)).toBe('dead');
        expect(await stateOf(store, expired.id)).toBe('expired');

        for (const m of [confirmed, dead, expired, cancelled]) {
          const before = await snapshot(store);
          await expectQueueError(store.cancel([m.id]), 'invalid_state');
          expect(await snapshot(store)).toEqual(before);
        }
      });

      it('a batch containing a terminal message changes nothing', async () => {
        const store = await open();
        const c = await enq(store, { body: 'c' });
        await deliver(store, 'alice', 's');
        await store.confirm('alice');
        const q = await enq(store, { body: 'q' });
        const before = await snapshot(store);
        await expectQueueError(store.cancel([q.id, c.id]), 'invalid_state');
        expect(await snapshot(store)).toEqual(before);
        expect(await stateOf(store, q.id)).toBe('queued');
      });
    });

    describe('retry', () => {
      it('requeues dead, failed, expired and cancelled messages with a fresh attempt budget', async () => {
        const store = await open();
        const dead = await enq(store, { body: 'dead', priority: 40 });
        const failed = await enq(store, { body: 'failed', priority: 30 });
        const expired = await enq(store, { body: 'expired', priority: 20, ttlMs: 60_000 });
        const cancelled = await enq(store, { body: 'cancelled', priority: 10 });
        const d = await claimOne(store);
        await store.fail({ leaseToken: d.leaseToken!, error: 'poison', retryable: false });
        const f = await claimOne(store);
        await store.fail({ leaseToken: f.leaseToken!, error: 'flaky' }); // backoff in the future
        await store.cancel([cancelled.id]);
        now += 60_000;
        await store.sweep();
        expect(await stateOf(store, dead.id)).toBe('dead');
        expect(await stateOf(store, failed.id)).toBe('failed');
        expect(await stateOf(store, expired.id)).toBe('expired');
        expect(await stateOf(store, cancelled.id)).toBe('cancelled');

        const ids = [dead.id, failed.id, expired.id, cancelled.id];
        const res = await store.retry(ids);
        expect(res.map((m) => m.id).sort()).toEqual([...ids].sort());
        for (const m of res) {
          expect(m.state).toBe('queued');
          expect(m.attempts).toBe(0);
          expect(m.availableAt).toBeLessThanOrEqual(now);
        }
        // All claimable now, in their original priority order.
        const claimed = await store.claim('alice', { owner: 'o', leaseMs: LEASE, limit: 10 });
        expect(claimed.map((m) => m.id)).toContain(failed.id);
        expect(claimed.map((m) => m.id).filter((id) => ids.includes(id))).toEqual(ids);
        expect(claimed.every((m) => m.attempts === 1)).toBe(true);
      });

      it('retried messages are claimable now even when their TTL has passed', async () => {
        const store = await open();
        const cancelled = await enq(store, { body: 'cancelled', ttlMs: 10_000, priority: 20 });
        const dead = await enq(store, { body: 'dead', ttlMs: 10_000, priority: 10 });
        await store.cancel([cancelled.id]);
        const cl = await claimOne(store);
        expect(cl.id).toBe(dead.id);
        await store.fail({ leaseToken: cl.leaseToken!, error: 'poison', retryable: false });
        now += 20_000;
        const res = await store.retry([cancelled.id, dead.id]);
        expect(res.map((m) => m.state)).toEqual(['queued', 'queued']);
        const claimed = await store.claim('alice', { owner: 'o', leaseMs: LEASE, limit: 5 });
        expect(claimed.map((m) => m.id)).toEqual([cancelled.id, dead.id]);
      });

      it('retrying a queued message rejects with invalid_state', async () => {
        const store = await open();
        const m = await enq(store, { body: 'q' });
        const before = await snapshot(store);
        await expectQueueError(store.retry([m.id]), 'invalid_state');
        expect(await snapshot(store)).toEqual(before);
      });
    });

    // ------------------------------------------------------------------ export / import

    describe('prune (retention)', () => {
      const HOUR = 3_600_000;
      const DAY = 24 * HOUR;

      /** One message in each finished state plus pending ones, all created at the current clock. */
      async function traffic(store: MessageStore, tag: string): Promise<Record<string, Message>> {
        const confirmed = await enq(store, { body: `${tag} confirmed`, priority: 200 });
        await deliver(store, 'alice', 's1');
        await store.confirm('alice', { ids: [confirmed.id] });
        const dead = await enq(store, { body: `${tag} dead`, priority: 200 });
        const leased = await claimOne(store);
        await store.fail({ leaseToken: leased.leaseToken!, error: 'poison', retryable: false });
        const cancelled = await enq(store, { body: `${tag} cancelled` });
        await store.cancel([cancelled.id]);
        const expired = await enq(store, { body: `${tag} expired`, agent: 'bob', ttlMs: 1_000 });
        now += 2_000;
        await store.sweep();
        const queued = await enq(store, { body: `${tag} queued`, agent: 'bob' });
        return { confirmed, dead, cancelled, expired, queued };
      }

      it('refuses ages under one hour with a clear error', async () => {
        const store = await open();
        const err = await expectQueueError(store.prune({ olderThanMs: HOUR - 1 }), 'invalid_input');
        expect(err.message).toMatch(/at least 1h/);
        await expectQueueError(store.prune({ olderThanMs: Number.NaN }), 'invalid_input');
        const r = await store.prune({ olderThanMs: HOUR });
        expect(r).toMatchObject({ messages: 0, events: 0, tasks: 0 });
      });

      it('removes finished messages older than the age with their events; pending and recent ones stay', async () => {
        const store = await open();
        const old = await traffic(store, 'old');
        const oldDelivered = await enq(store, { body: 'old delivered', agent: 'bob', priority: 200 });
        await deliver(store, 'bob', 's2');
        now += 8 * DAY;
        const recent = await traffic(store, 'new');
        const eventsOfQueued = await store.events({ messageId: old.queued!.id });

        const r = await store.prune({ olderThanMs: 7 * DAY });
        expect(r.cutoff).toBe(now - 7 * DAY);
        expect(r.messages).toBe(4);
        expect(r.events).toBeGreaterThanOrEqual(4 * 2);
        for (const k of ['confirmed', 'dead', 'cancelled', 'expired']) await expectQueueError(store.get(old[k]!.id), 'not_found');
        expect(await stateOf(store, old.queued!.id)).toBe('queued');
        expect(await stateOf(store, oldDelivered.id)).toBe('delivered');
        expect(await store.events({ messageId: old.queued!.id })).toEqual(eventsOfQueued);
        for (const m of Object.values(recent)) await store.get(m.id);
        const stats = await store.stats();
        expect(stats.totals).toMatchObject({ confirmed: 1, dead: 1, cancelled: 1, expired: 1, queued: 2, delivered: 1 });
        expect(stats.agents.find((a) => a.agent === 'bob')!.pending).toBe(3);

        const again = await store.prune({ olderThanMs: 7 * DAY });
        expect(again).toMatchObject({ messages: 0, events: 0 });
      });

      it('small batches remove the same; new messages never reuse a pruned id', async () => {
        const store = await open();
        const ids = new Set<string>();
        for (let i = 0; i < 7; i++) {
          const m = await enq(store, { body: `m${i}` });
          ids.add(m.id);
        }
        await store.cancel([...ids]);
        now += 2 * HOUR;
        const r = await store.prune({ olderThanMs: HOUR, batchSize: 2 });
        expect(r.messages).toBe(7);
        expect(await store.list({ limit: 100 })).toEqual([]);
        const next = await enq(store, { body: 'after prune' });
        expect(ids.has(next.id)).toBe(false);
      });

      it('removes agent events older than the age and keeps the last hour (the restart window)', async () => {
        const store = await open();
        await store.recordEvent({ agent: 'alice', kind: 'agent_restarted', detail: { generation: 1 } });
        now += 2 * HOUR;
        await store.recordEvent({ agent: 'alice', kind: 'agent_restarted', detail: { generation: 2 } });
        now += 30 * 60_000;
        const r = await store.prune({ olderThanMs: HOUR });
        expect(r.agentEvents).toBeGreaterThanOrEqual(1);
        const restarts = await store.events({ agent: 'alice', kinds: ['agent_restarted'] });
        expect(restarts.map((e) => e.detail?.generation)).toEqual([2]);
      });

      it('usage rows not met within the age go, and no message counts twice: copies and old lines read from a transcript start are taken as counted', async () => {
        const store = await open();
        const entry = (messageId: string, t: Partial<UsageEntry> = {}): UsageEntry => ({ messageId, model: 'm', input: 0, output: 0, cacheRead: 0, cacheCreation: 0, costUsd: 0, ...t });
        const t0 = now;
        // m1, m2, one Codex response (its id: the session and the running totals after it) and an older
        // Codex's session running total, two days ago; m2 met again (a partial) a day later.
        await store.recordUsage('alice', {
          entries: [entry('m1', { input: 10, at: t0 }), entry('m2', { input: 20, at: t0 }), entry('codex:s2:5:0:0', { input: 5, at: t0 }), entry('codex:s1', { input: 100 })],
          fromStart: true,
        });
        await store.recordUsage('bob', { entries: [entry('b1', { input: 1, at: t0 })] });
        now += DAY;
        await store.recordUsage('alice', { entries: [entry('m2', { input: 20, output: 3, at: t0 })] });
        now += DAY;
        await store.recordUsage('alice', { entries: [entry('m3', { input: 30, at: now })] });
        const before = (await store.agentUsage(['alice']))[0]!;
        expect(before).toMatchObject({ input: 165, output: 3, messages: 5 });

        // m1, the Codex response and bob's b1 were last met two days ago, m2 one day ago: a 36 h age
        // takes those three only (the running total stays).
        const r = await store.prune({ olderThanMs: 36 * HOUR });
        expect(r.usageMessages).toBe(3);
        expect(await store.prune({ olderThanMs: 36 * HOUR })).toMatchObject({ usageMessages: 0 });
        // The totals are not touched.
        expect((await store.agentUsage(['alice']))[0]).toMatchObject({ input: 165, output: 3, messages: 5 });

        // A fork's new transcript, read from its start: copies of m1 (pruned) and m2 (kept), m1's line
        // with its old time, the Codex response's line again, then a new response. Only the new one counts.
        let u = await store.recordUsage('alice', {
          entries: [
            entry('m1', { input: 10, copy: true, at: now }),
            entry('m1', { input: 10, at: t0 }),
            entry('m2', { input: 20, output: 3, copy: true, at: t0 }),
            entry('codex:s2:5:0:0', { input: 5, at: t0 }),
            entry('m4', { input: 40, at: now }),
          ],
          fromStart: true,
        });
        expect(u).toMatchObject({ input: 205, output: 3, messages: 6 });
        // The Codex running total was kept: its next figure adds only growth.
        u = await store.recordUsage('alice', { entries: [entry('codex:s1', { input: 150 })], fromStart: true });
        expect(u).toMatchObject({ input: 255, messages: 6 });
        // Read on from a cursor (no copies there), a line is new whatever its time.
        u = await store.recordUsage('alice', { entries: [entry('m5', { input: 1, at: t0 })] });
        expect(u).toMatchObject({ input: 256, messages: 7 });
        // bob's b1 pruned too: a re-read of his transcript from its start does not count it again.
        expect(await store.recordUsage('bob', { entries: [entry('b1', { input: 1, at: t0 })], fromStart: true })).toMatchObject({ input: 1, messages: 1 });
        // Before any prune, a copy of a message never seen here counts (it is the only record of it).
        await store.registerAgents([{ name: 'carol', profile: 'p' }]);
        expect(await store.recordUsage('carol', { entries: [entry('c1', { input: 7, copy: true, at: t0 })], fromStart: true })).toMatchObject({ input: 7, messages: 1 });
      });
    });

    describe('export / import', () => {
      /** A store with messages in every pending state plus some finished ones. */
      async function populated(): Promise<{ store: MessageStore; pendingIds: string[] }> {
        const store = await open();
        const q1 = await enq(store, {
          body: 'queued one\nwith a newline and unicode é ✓',
          priority: 5,
          key: 'k-q1',
          sender: 'bob',
          meta: { ticket: 17, tags: ['a'] },
        });
        now += 5;
        const q2 = await enq(store, { body: 'queued two', priority: 50, ttlMs: 3_600_000 });
        now += 5;
        const leased = await enq(store, { body: 'to lease', priority: 200, maxAttempts: 7 });
        now += 5;
        const delivered = await enq(store, { body: 'to deliver', priority: 100 });
        now += 5;
        const failed = await enq(store, { body: 'to fail', priority: 90 });
        now += 5;
        const confirmed = await enq(store, { body: 'to confirm', priority: 95 });
        const cancelled = await enq(store, { body: 'to cancel' });
        const bob1 = await enq(store, { agent: 'bob', body: 'bob one', priority: 10, key: 'bk' });

        const l = await claimOne(store); // leased (200)
        expect(l.id).toBe(leased.id);
        const dd = await claimOne(store); // delivered (100)
        expect(dd.id).toBe(delivered.id);
        await store.ack({ leaseToken: dd.leaseToken!, sessionId: 's-old' });
        const cc = await claimOne(store); // confirmed (95)
        expect(cc.id).toBe(confirmed.id);
        await store.ack({ leaseToken: cc.leaseToken!, sessionId: 's-confirm' });
        await store.confirm('alice', { sessionId: 's-confirm' });
        const ff = await claimOne(store); // failed (90)
        expect(ff.id).toBe(failed.id);
        await store.fail({ leaseToken: ff.leaseToken!, error: 'transient' });
        await store.cancel([cancelled.id]);

        return { store, pendingIds: [leased.id, delivered.id, failed.id, q2.id, q1.id, bob1.id] };
      }

      it('exports pending messages only, in delivery order, without a state field', async () => {
        const { store, pendingIds } = await populated();
        const alice = await store.exportPending({ agent: 'alice' });
        // priority desc: leased(200), delivered(100), failed(90), q2(50), q1(5)
        expect(alice.map((m) => m.id)).toEqual(pendingIds.slice(0, 5));
        for (const m of alice) {
          expect(m).not.toHaveProperty('state');
          expect(Object.keys(m).sort()).toEqual(exportedKeys);
          expect(m.agent).toBe('alice');
        }
        const q1 = alice.find((m) => m.key === 'k-q1')!;
        expect(q1).toEqual({
          id: q1.id,
          agent: 'alice',
          priority: 5,
          body: 'queued one\nwith a newline and unicode é ✓',
          sender: 'bob',
          key: 'k-q1',
          attempts: 0,
          maxAttempts: defaultQueueLimits.maxAttempts,
          redeliveries: 0,
          createdAt: T0,
          expiresAt: null,
          meta: { ticket: 17, tags: ['a'] },
        } satisfies ExportedMessage);
        const leased = alice[0]!;
        expect(leased.attempts).toBe(1);
        expect(leased.maxAttempts).toBe(7);

        const all = await store.exportPending();
        expect(all.map((m) => m.id).sort()).toEqual([...pendingIds].sort());
        expect(await store.exportPending({ agent: 'bob' })).toHaveLength(1);
      });

      it('import into a fresh store then export round-trips exactly', async () => {
        const { store } = await populated();
        const exported = await store.exportPending();
        expect(exported).toHaveLength(6);
        // Through JSON, as `queue export` / `queue import` do.
        const lines = exported.map((m) => JSON.stringify(m));
        const records: ImportRecord[] = lines.map((line, i) => ({ line: i + 1, message: JSON.parse(line) as ExportedMessage }));

        now += 60_000;
        const fresh = await open();
        const res = await fresh.importMessages(records);
        expect(res).toEqual({ imported: 6, skipped: [], rejected: [] });
        expect(await fresh.exportPending()).toEqual(exported);
        for (const agent of ['alice', 'bob']) {
          expect(await fresh.exportPending({ agent })).toEqual(await store.exportPending({ agent }));
        }
        // Imported messages are deliverable in the same order.
        const claimed = await fresh.claim('alice', { owner: 'o', leaseMs: LEASE, limit: 10 });
        expect(claimed.map((m) => m.id)).toEqual(exported.filter((m) => m.agent === 'alice').map((m) => m.id));

        // Idempotency keys survive the import.
        const dup = await fresh.enqueue({ agent: 'alice', body: 'again', key: 'k-q1' });
        expect(dup.created).toBe(false);
      });

      it('importing the same records again skips them all', async () => {
        const { store } = await populated();
        const exported = await store.exportPending();
        const records: ImportRecord[] = exported.map((message, i) => ({ line: i + 1, message }));
        const fresh = await open();
        expect((await fresh.importMessages(records)).imported).toBe(exported.length);
        const again = await fresh.importMessages(records);
        expect(again.imported).toBe(0);
        expect(again.skipped).toHaveLength(exported.length);
        expect(again.rejected).toEqual([]);
        expect(again.skipped.map((s) => s.line).sort((a, b) => a - b)).toEqual(records.map((r) => r.line));
        expect(await fresh.exportPending()).toEqual(exported);
        // Re-importing into the source store skips as well.
        const self = await store.importMessages(records);
        expect(self.imported).toBe(0);
        expect(self.skipped).toHaveLength(exported.length);
      });

      it('a key repeated inside one import: the first line is imported, the repeat is skipped naming that line', async () => {
        const { store } = await populated();
        const [a, b] = await store.exportPending({ agent: 'alice' });
        const records: ImportRecord[] = [
          { line: 3, message: { ...a!, id: `${a!.id}-x`, key: 'twice' } },
          { line: 7, message: { ...b!, id: `${b!.id}-x`, key: 'twice' } },
        ];
        const fresh = await open();
        const r = await fresh.importMessages(records);
        expect(r.imported).toBe(1);
        expect(r.rejected).toEqual([]);
        expect(r.skipped).toEqual([{ line: 7, id: `${b!.id}-x`, message: 'idempotency key "twice" for alice repeats line 3 of this import', repeatOf: 3 }]);
        // Again: both are plainly present now, and nothing points at a line.
        const again = await fresh.importMessages(records);
        expect(again.imported).toBe(0);
        expect(again.skipped.map((x) => x.repeatOf)).toEqual([undefined, undefined]);
      });

      it('a record for an unknown agent rejects the whole import unless partial', async () => {
        const { store } = await populated();
        const exported = await store.exportPending({ agent: 'alice' });
        const ghost: ExportedMessage = { ...exported[0]!, id: `${exported[0]!.id}-ghost`, agent: 'ghost', key: null };
        const records: ImportRecord[] = [
          { line: 1, message: exported[0]! },
          { line: 2, message: exported[1]! },
          { line: 3, message: ghost },
          { line: 4, message: exported[2]! },
        ];

        const strict = await open();
        const res = await strict.importMessages(records);
        expect(res.imported).toBe(0);
        expect(res.rejected.map((r) => r.line)).toEqual([3]);
        expect(res.rejected[0]!.message.length).toBeGreaterThan(0);
        expect(await strict.exportPending()).toEqual([]);
        expect(await strict.list({ limit: 100 })).toEqual([]);

        const lenient = await open();
        const res2 = await lenient.importMessages(records, { partial: true });
        expect(res2.imported).toBe(3);
        expect(res2.rejected.map((r) => r.line)).toEqual([3]);
        expect((await lenient.exportPending()).map((m) => m.id)).toEqual([exported[0]!.id, exported[1]!.id, exported[2]!.id]);
      });
    });
  });
}
