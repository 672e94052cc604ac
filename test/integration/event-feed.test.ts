/**
 * The engine's event stream (issue 17): GET /events on the hook server, guarded by the CLI's token,
 * fed by EventFeed from the store's event log when the engine pokes it. Real SQLite, real HTTP on
 * 127.0.0.1, the client the CLI uses (engine-client/event-stream.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HookServer } from '../../src/daemon/hook-server.js';
import { EventFeed } from '../../src/daemon/event-feed.js';
import { openEventStream } from '../../src/engine-client/event-stream.js';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import { silentLogger } from '../../src/log.js';
import type { FeedEvent } from '../../src/domain/agent-events.js';
import { waitFor } from '../helpers/tmux.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-feed-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openSqliteStore(join(dir, 'hornets.db'));
  cleanups.push(() => store.close());
  await store.registerAgents([
    { name: 'marie', profile: 'demo' },
    { name: 'anga', profile: 'demo' },
  ]);
  writeFileSync(join(dir, 'hornets.json'), JSON.stringify({ project: 'p', agents: [] }));
  const feed = new EventFeed({ store, agents: () => ['marie', 'anga'], log: silentLogger() });
  const server = new HookServer({ store, stateDir: dir, configPath: join(dir, 'hornets.json'), log: silentLogger(), onEvents: (res, agent) => feed.subscribe(res, agent) });
  await server.start();
  cleanups.push(() => server.stop());
  const [port, cliToken] = readFileSync(join(dir, 'run', 'hook-endpoint'), 'utf8')
    .trim()
    .split(' ');
  return { dir, store, feed, port: Number(port), cliToken: cliToken! };
}

describe('the event stream (GET /events)', () => {
  it('refuses a request without the CLI token', async () => {
    const { port } = await setup();
    expect((await fetch(`http://127.0.0.1:${port}/events`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/events`, { headers: { 'x-hornets-token': 'x'.repeat(48) } })).status).toBe(401);
  });

  it('streams what is recorded after subscribing, once, for the agent asked for; history is not repeated', async () => {
    const { dir, store, feed } = await setup();
    await store.recordEvent({ agent: 'marie', kind: 'before_subscribing', detail: null });
    const all: FeedEvent[] = [];
    const onlyAnga: FeedEvent[] = [];
    const s1 = await openEventStream(dir, null, (e) => all.push(e));
    const s2 = await openEventStream(dir, 'anga', (e) => onlyAnga.push(e));
    expect(s1).not.toBeNull();
    expect(s2).not.toBeNull();
    cleanups.push(
      () => s1!.close(),
      () => s2!.close(),
    );
    await store.recordEvent({ agent: 'marie', kind: 'first', detail: { n: 1 } });
    await store.recordEvent({ agent: 'anga', kind: 'second', detail: null });
    feed.poke('marie');
    feed.poke(null);
    await waitFor('both streamed', () => all.length >= 2 && onlyAnga.length >= 1, 10_000, 20);
    // Poked again with nothing new: nothing more.
    feed.poke(null);
    const id = (await store.enqueue({ agent: 'marie', body: 'hi' })).message.id;
    feed.poke('marie');
    await waitFor('the enqueue streamed', () => all.some((e) => e.message === id), 10_000, 20);
    expect(all.map((e) => e.kind)).toEqual(['first', 'second', 'enqueued']);
    expect(all[0]).toMatchObject({ agent: 'marie', kind: 'first', detail: { n: 1 }, message: null });
    expect(onlyAnga.map((e) => e.kind)).toEqual(['second']);
  });

  it('no engine listening: the client says so (null)', async () => {
    const { dir } = await setup();
    await cleanups.splice(-1)[0]!();
    expect(await openEventStream(dir, null, () => undefined, 1000)).toBeNull();
  });
});
