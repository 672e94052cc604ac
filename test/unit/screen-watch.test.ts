/**
 * ScreenWatch (issue 11, item 6) carrying out the screen-hold policy on a real SQLite store with an
 * injected clock: a state read from the screen lapses without a confirming capture (also one left
 * by an earlier engine), a long permission hold is escalated once with its note, and its end is
 * detected and recorded. No tmux: the readings are what the reconciler would report.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { Lifecycle } from '../../src/services/lifecycle.js';
import { ScreenWatch } from '../../src/daemon/screen-watch.js';
import { silentLogger } from '../../src/log.js';
import type { PaneReading } from '../../src/domain/pane-state.js';

let dir: string;
let store: SqliteMessageStore;
let watch: ScreenWatch;
const clock = { t: Date.UTC(2026, 11, 2, 12, 1, 3) };
const T0 = clock.t;
const prompt: PaneReading = { verdict: 'permission', line: 'Delete everything? [y/N]' };
const idle: PaneReading = { verdict: 'idle', line: null };
const hookless = { stateFromScreen: true };

beforeEach(async () => {
  clock.t = T0;
  dir = mkdtempSync(join(tmpdir(), 'hornets-screen-watch-'));
  store = await openSqliteStore(join(dir, 'hornets.db'), { clock: () => clock.t });
  await store.registerAgents([{ name: 'sh', profile: 'shell' }]);
  await store.transitionAgent('sh', { type: 'started' }, { generation: 1, paneId: '%1' });
  await store.transitionAgent('sh', { type: 'screen', verdict: 'idle' });
  watch = new ScreenWatch({ store, lifecycle: new Lifecycle(store), log: silentLogger(), now: () => clock.t, timing: { ttlMs: 15_000, alertAfterMs: 30_000 } });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What the reconciler does with a capture: the watch first, then the state. */
async function capture(reading: PaneReading): Promise<void> {
  await watch.observe('sh', reading);
  await store.transitionAgent('sh', { type: 'screen', verdict: reading.verdict });
}

const record = async () => (await store.getAgent('sh'))!;
const kinds = async () => (await store.events({ agent: 'sh', limit: 100 })).map((e) => e.kind);

describe('ScreenWatch', () => {
  it('a prompt read once and never confirmed lapses after the TTL: the agent is unknown, not needs-input', async () => {
    await capture(prompt);
    clock.t = T0 + 14_000;
    expect((await watch.review(await record(), hookless)).state).toBe('needs-input');
    clock.t = T0 + 15_000;
    expect((await watch.review(await record(), hookless)).state).toBe('unknown');
    expect(await kinds()).toContain('screen_state_expired');
  });

  it('a needs-input state no capture of this engine confirmed (an engine restart) lapses at once', async () => {
    await store.transitionAgent('sh', { type: 'screen', verdict: 'permission' });
    expect((await watch.review(await record(), hookless)).state).toBe('unknown');
  });

  it('a prompt confirmed by every capture holds; after the alert it is escalated once, with since and line', async () => {
    for (let s = 0; s <= 40; s += 10) {
      clock.t = T0 + s * 1000;
      await capture(prompt);
      await watch.review(await record(), hookless);
    }
    const r = await record();
    expect(r.state).toBe('needs-input');
    expect(r.lastError).toBe('held: sh shows a permission prompt since 12:01:03 UTC (line: Delete everything? [y/N]); delivery waits until it is answered (attach to answer it)');
    expect((await kinds()).filter((k) => k === 'delivery_held')).toHaveLength(1);
  });

  it('the prompt answered: the hold ends, its note goes, the release is recorded; a new prompt starts a new hold', async () => {
    await capture(prompt);
    clock.t = T0 + 10_000;
    await capture(prompt);
    clock.t = T0 + 30_000;
    await capture(prompt);
    await watch.review(await record(), hookless);
    expect((await record()).lastError).toMatch(/^held: /);
    clock.t = T0 + 31_000;
    await capture(idle);
    const after = await record();
    expect(after.state).toBe('idle');
    expect(after.lastError).toBeNull();
    expect((await kinds()).filter((k) => k === 'delivery_released')).toHaveLength(1);
    // Not escalated again at once: a new prompt counts from its own start.
    clock.t = T0 + 40_000;
    await capture(prompt);
    expect((await watch.review(await record(), hookless)).lastError).toBeNull();
  });

  it('an escalated hold whose captures stop lapses: state and note both go', async () => {
    await capture(prompt);
    clock.t = T0 + 10_000;
    await capture(prompt);
    clock.t = T0 + 20_000;
    await capture(prompt);
    clock.t = T0 + 30_000;
    await capture(prompt);
    await watch.review(await record(), hookless);
    clock.t = T0 + 45_000;
    const r = await watch.review(await record(), hookless);
    expect(r.state).toBe('unknown');
    expect(r.lastError).toBeNull();
  });

  it("a push agent with hooks: the hold is escalated, but the state is its hooks' word and never lapses", async () => {
    await store.transitionAgent('sh', { type: 'hook', event: 'Notification', notification: 'permission_prompt' });
    const hooked = { stateFromScreen: false };
    expect((await watch.review(await record(), hooked)).state).toBe('needs-input');
    await watch.observe('sh', prompt);
    clock.t = T0 + 30_000;
    await watch.observe('sh', prompt);
    const r = await watch.review(await record(), hooked);
    expect(r.state).toBe('needs-input');
    expect(r.lastError).toMatch(/^held: sh shows a permission prompt since 12:01:03 UTC/);
    clock.t = T0 + 60_000;
    expect(await watch.review(await record(), hooked)).toMatchObject({ state: 'needs-input', lastError: null });
  });
});
