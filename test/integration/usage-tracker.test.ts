import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { UsageTracker } from '../../src/daemon/usage-tracker.js';
import { defaultPrices } from '../../src/domain/usage.js';

const line = (id: string, input: number, output: number, extra: Record<string, unknown> = {}) =>
  `${JSON.stringify({ type: 'assistant', message: { id, model: 'claude-sonnet-4-5', usage: { input_tokens: input, output_tokens: output, cache_read_input_tokens: 7 } }, ...extra })}\n`;
const user = (text: string) => `${JSON.stringify({ type: 'user', message: { role: 'user', content: text } })}\n`;

describe('UsageTracker (transcripts read incrementally into the store)', () => {
  let dir: string;
  let store: SqliteMessageStore;
  const tracker = () => new UsageTracker({ store, log: pino({ level: 'silent' }), prices: () => defaultPrices, settleMs: 0 });

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hornets-usage-'));
    store = await openSqliteStore(path.join(dir, 'hornets.db'));
    await store.registerAgents([{ name: 'a', profile: 'claude-code' }]);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads only appended bytes, waits for a partial last line, and a new reader (daemon restart) counts nothing twice', async () => {
    const t = path.join(dir, 's1.jsonl');
    writeFileSync(t, user('hi') + line('m1', 10, 1) + line('m1', 10, 5));
    const r = tracker();
    expect(await r.readNew('a', t)).toMatchObject({ input: 10, output: 5, cacheRead: 7, messages: 1 });
    const whole = line('m2', 20, 3);
    appendFileSync(t, whole.slice(0, 25));
    expect(await r.readNew('a', t)).toBeNull();
    expect((await store.usageCursor('a', t))?.offset).toBe(Buffer.byteLength(user('hi') + line('m1', 10, 1) + line('m1', 10, 5)));
    appendFileSync(t, whole.slice(25));
    expect(await r.readNew('a', t)).toMatchObject({ input: 30, output: 8, messages: 2 });
    expect(await tracker().readNew('a', t)).toBeNull();
    expect((await store.agentUsage(['a']))[0]).toMatchObject({ input: 30, output: 8, cacheRead: 14 });
  });

  it('a resumed session copying earlier entries into a new transcript adds only the new messages', async () => {
    const first = path.join(dir, 's1.jsonl');
    writeFileSync(first, line('m1', 10, 5) + line('m2', 20, 6));
    await tracker().readNew('a', first);
    const resumed = path.join(dir, 's2.jsonl');
    writeFileSync(resumed, line('m1', 10, 5) + line('m2', 20, 6) + user('again') + line('m3', 30, 7));
    expect(await tracker().readNew('a', resumed)).toMatchObject({ input: 60, output: 18, messages: 3 });
  });

  it('after retention pruned the rows of old messages, a fork copying them into a new transcript still adds only its new message', async () => {
    let now = Date.now();
    const clocked = await openSqliteStore(path.join(dir, 'clocked.db'), { clock: () => now });
    try {
      await clocked.registerAgents([{ name: 'a', profile: 'claude-code' }]);
      const r = new UsageTracker({ store: clocked, log: pino({ level: 'silent' }), prices: () => defaultPrices, settleMs: 0 });
      const at = new Date(now).toISOString();
      const first = path.join(dir, 's1.jsonl');
      writeFileSync(first, line('m1', 10, 5, { timestamp: at }) + line('m2', 20, 6, { timestamp: at }));
      await r.readNew('a', first);
      now += 8 * 24 * 3_600_000;
      expect((await clocked.prune({ olderThanMs: 7 * 24 * 3_600_000 })).usageMessages).toBe(2);
      // Claude Code's fork: every copied line marked forkedFrom; the last keeps no old time.
      const fork = path.join(dir, 's2.jsonl');
      const forked = (id: string, input: number, output: number, ts: string) => line(id, input, output, { timestamp: ts, forkedFrom: { sessionId: 's1', messageUuid: id } });
      writeFileSync(fork, forked('m1', 10, 5, at) + forked('m2', 20, 6, new Date(now).toISOString()) + user('again') + line('m3', 30, 7, { timestamp: new Date(now).toISOString() }));
      expect(await r.readNew('a', fork)).toMatchObject({ input: 60, output: 18, messages: 3 });
    } finally {
      await clocked.close();
    }
  });

  it('a transcript replaced or truncated is read from its start without counting its old messages again', async () => {
    const t = path.join(dir, 's1.jsonl');
    writeFileSync(t, line('m1', 10, 5) + line('m2', 20, 6));
    await tracker().readNew('a', t);
    unlinkSync(t);
    writeFileSync(t, line('m3', 1, 1));
    expect(await tracker().readNew('a', t)).toMatchObject({ input: 31, output: 12, messages: 3 });
  });

  it('note() coalesces reads per agent and idle() waits for them', async () => {
    const t = path.join(dir, 's1.jsonl');
    writeFileSync(t, line('m1', 10, 5));
    const seen: number[] = [];
    const r = new UsageTracker({ store, log: pino({ level: 'silent' }), prices: () => defaultPrices, onUsage: (u) => seen.push(u.input), settleMs: 0 });
    r.note('a', t);
    appendFileSync(t, line('m2', 5, 5));
    r.note('a', t);
    r.note('a', 'relative/path.jsonl');
    await r.idle();
    expect((await store.agentUsage(['a']))[0]!.input).toBe(15);
    expect(seen.at(-1)).toBe(15);
  });

  // Real rollout lines of Codex 0.171.0 (test/fixtures/usage): five responses, the model in each turn's turn_context.
  const codex = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'usage', 'codex-0.171.0-rollout.jsonl'), 'utf8');
  const price = { 'fake-model': { input: 2, output: 7, cacheRead: 0.5, cacheWrite: 0 } };
  const codexCost = ((6243 - 1654) * 2 + 247 * 7 + 1654 * 0.5) / 1e6;

  it('a Codex rollout read in parts by a new reader each time (engine restarts) prices every response by the turn_context before it', async () => {
    const t = path.join(dir, 'rollout-2026-12-03T16-33-45-01a23cc1-398d-7061-8f3a-25c7098915fe.jsonl');
    const lines = codex.split('\n').filter(Boolean);
    // Cut right after each turn_context: the token counts after the cut have their model only before it.
    const cuts = lines.flatMap((l, i) => (l.includes('"type":"turn_context"') ? [i + 1] : [])).concat(lines.length);
    expect(cuts.length).toBeGreaterThan(3);
    let from = 0;
    for (const cut of cuts) {
      appendFileSync(
        t,
        lines
          .slice(from, cut)
          .map((l) => `${l}\n`)
          .join(''),
      );
      from = cut;
      const r = new UsageTracker({ store, log: pino({ level: 'silent' }), prices: () => price, settleMs: 0 });
      await r.readNew('a', t);
    }
    const [u] = await store.agentUsage(['a']);
    expect(u).toMatchObject({ input: 6243 - 1654, cacheRead: 1654, output: 247, cacheCreation: 0, messages: 5 });
    expect(u!.costUsd).toBeCloseTo(codexCost, 12);
  });

  it('the look back for the model stops at a line boundary: a turn_context far behind, past many chunks, is found', async () => {
    const t = path.join(dir, 'rollout-x.jsonl');
    const lines = codex.split('\n').filter(Boolean);
    const firstContext = lines.findIndex((l) => l.includes('"type":"turn_context"'));
    const firstCount = lines.findIndex((l) => l.includes('"type":"token_count"'));
    // 3 MiB of lines without usage between the turn_context and its token count.
    const filler = `${JSON.stringify({ type: 'response_item', payload: { type: 'message', content: 'x'.repeat(70_000) } })}\n`.repeat(45);
    writeFileSync(
      t,
      lines
        .slice(0, firstContext + 1)
        .map((l) => `${l}\n`)
        .join('') + filler,
    );
    await tracker().readNew('a', t);
    appendFileSync(t, `${lines[firstCount]!}\n`);
    const r = new UsageTracker({ store, log: pino({ level: 'silent' }), prices: () => price, settleMs: 0 });
    const u = await r.readNew('a', t);
    expect(u).toMatchObject({ input: 901, cacheRead: 300, output: 41, messages: 1 });
    expect(u!.costUsd).toBeCloseTo((901 * 2 + 41 * 7 + 300 * 0.5) / 1e6, 12);
  });

  it('a Gemini CLI chat recording: each message once, though the CLI writes one twice and re-states the list on resume', async () => {
    const t = path.join(dir, 'session-2026-12-03T16-35-e63addb6.jsonl');
    const gemini = readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'usage', 'gemini-0.61.0-chat.jsonl'), 'utf8');
    const half = gemini.indexOf('\n', gemini.length >> 1) + 1;
    writeFileSync(t, gemini.slice(0, half));
    await tracker().readNew('a', t);
    appendFileSync(t, gemini.slice(half));
    await tracker().readNew('a', t);
    expect((await store.agentUsage(['a']))[0]).toMatchObject({ input: 6635 - 1070, cacheRead: 1070, output: 260, cacheCreation: 0, messages: 5 });
  });
});

describe('UsageTracker follow-up read', () => {
  it('reads again a moment after a hook: a line written after the hook (the turn end) is counted with no further hook', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hornets-usage-'));
    const store = await openSqliteStore(path.join(dir, 'hornets.db'));
    try {
      await store.registerAgents([{ name: 'a', profile: 'claude-code' }]);
      const t = path.join(dir, 's1.jsonl');
      writeFileSync(t, line('m1', 10, 5));
      const r = new UsageTracker({ store, log: pino({ level: 'silent' }), prices: () => defaultPrices, settleMs: 200 });
      r.note('a', t);
      await r.idle();
      appendFileSync(t, line('m2', 5, 5));
      await new Promise((res) => setTimeout(res, 400));
      await r.idle();
      expect((await store.agentUsage(['a']))[0]!.input).toBe(15);
      r.stop();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
