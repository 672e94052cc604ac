/** The Prometheus text exposition format 0.0.4, checked line by line. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MetricsServer,
  Registry,
  breakerValue,
  collectUsage,
  recordRunUsage,
  collectSeedGauges,
  createHornetsMetrics,
  escapeLabelValue,
  formatValue,
  isLoopbackHost,
  recordTaskEnded,
  recordTaskTaken,
} from '../../src/daemon/metrics.js';
import { emptyUsage } from '../../src/domain/usage.js';

/** Every sample line of the format: name, optional {labels}, a value. */
const SAMPLE_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$/;

function checkWellFormed(text: string): void {
  expect(text.endsWith('\n')).toBe(true);
  const seenType = new Set<string>();
  for (const line of text.trimEnd().split('\n')) {
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(type);
      expect(seenType.has(name!), `TYPE twice for ${name}`).toBe(false);
      seenType.add(name!);
      continue;
    }
    expect(line, line).toMatch(SAMPLE_RE);
  }
}

describe('metrics registry', () => {
  it('exposes a labelled counter with HELP and TYPE', () => {
    const r = new Registry();
    const c = r.counter({ name: 'jobs_total', help: 'Jobs done.', labelNames: ['worker', 'status'] });
    c.inc({ worker: 'b', status: 'ok' });
    c.inc({ worker: 'a', status: 'ok' }, 2);
    c.inc({ worker: 'a', status: 'ok' });
    expect(r.expose()).toBe(['# HELP jobs_total Jobs done.', '# TYPE jobs_total counter', 'jobs_total{worker="a",status="ok"} 3', 'jobs_total{worker="b",status="ok"} 1', ''].join('\n'));
    expect(c.get({ worker: 'a', status: 'ok' })).toBe(3);
  });

  it('usage: tokens by kind and cost as counters mirroring the store totals (never down), and the over-budget gauge', () => {
    const m = createHornetsMetrics();
    collectUsage(m, [{ ...emptyUsage('marie'), input: 10, output: 5, cacheRead: 100, cacheCreation: 7, costUsd: 0.25, overBudget: true }]);
    // A lower total (a store put back from an older copy) leaves the counters where they were.
    collectUsage(m, [{ ...emptyUsage('marie'), input: 3, output: 6, cacheRead: 100, cacheCreation: 7, costUsd: 0.5 }]);
    const text = m.registry.expose();
    checkWellFormed(text);
    expect(text).toContain('# TYPE hornets_agent_tokens_total counter');
    expect(text).toContain('hornets_agent_tokens_total{agent="marie",kind="input"} 10');
    expect(text).toContain('hornets_agent_tokens_total{agent="marie",kind="output"} 6');
    expect(text).toContain('hornets_agent_tokens_total{agent="marie",kind="cache_read"} 100');
    expect(text).toContain('hornets_agent_tokens_total{agent="marie",kind="cache_creation"} 7');
    expect(text).toContain('hornets_agent_cost_usd_total{agent="marie"} 0.5');
    expect(text).toContain('hornets_agent_over_budget{agent="marie"} 0');
  });

  it("worker runs: each run's tokens by kind and its cost added to the worker's counters", () => {
    const m = createHornetsMetrics();
    recordRunUsage(m, 'fab', { input: 10, output: 5, cacheRead: 0, cacheCreation: 200, costUsd: 0.25 });
    recordRunUsage(m, 'fab', { input: 12, output: 6, cacheRead: 200, cacheCreation: 0, costUsd: 0.5 });
    recordRunUsage(m, 'gina', { input: 1, output: 1, cacheRead: 0, cacheCreation: 0, costUsd: 0 });
    const text = m.registry.expose();
    checkWellFormed(text);
    expect(text).toContain('# TYPE hornets_worker_tokens_total counter');
    expect(text).toContain('hornets_worker_tokens_total{worker="fab",kind="input"} 22');
    expect(text).toContain('hornets_worker_tokens_total{worker="fab",kind="output"} 11');
    expect(text).toContain('hornets_worker_tokens_total{worker="fab",kind="cache_read"} 200');
    expect(text).toContain('hornets_worker_tokens_total{worker="fab",kind="cache_creation"} 200');
    expect(text).toContain('hornets_worker_tokens_total{worker="gina",kind="input"} 1');
    expect(text).toContain('# TYPE hornets_worker_cost_usd_total counter');
    expect(text).toContain('hornets_worker_cost_usd_total{worker="fab"} 0.75');
    expect(text).toContain('hornets_worker_cost_usd_total{worker="gina"} 0');
  });

  it('exposes an unlabelled gauge, and gauges go both ways and reset', () => {
    const r = new Registry();
    const g = r.gauge({ name: 'queue_size', help: 'Size.' });
    g.set({}, 5);
    g.inc();
    g.dec({}, 3);
    expect(r.expose()).toBe('# HELP queue_size Size.\n# TYPE queue_size gauge\nqueue_size 3\n');
    g.reset();
    expect(r.expose()).toBe('# HELP queue_size Size.\n# TYPE queue_size gauge\n');
  });

  it('exposes histograms with cumulative buckets, +Inf, _sum and _count', () => {
    const r = new Registry();
    const h = r.histogram({ name: 'latency_seconds', help: 'Latency.', labelNames: ['agent'], buckets: [0.1, 1, 10] });
    for (const v of [0.05, 0.5, 0.5, 5, 50]) h.observe({ agent: 'marie' }, v);
    expect(r.expose()).toBe(
      [
        '# HELP latency_seconds Latency.',
        '# TYPE latency_seconds histogram',
        'latency_seconds_bucket{agent="marie",le="0.1"} 1',
        'latency_seconds_bucket{agent="marie",le="1"} 3',
        'latency_seconds_bucket{agent="marie",le="10"} 4',
        'latency_seconds_bucket{agent="marie",le="+Inf"} 5',
        'latency_seconds_sum{agent="marie"} 56.05',
        'latency_seconds_count{agent="marie"} 5',
        '',
      ].join('\n'),
    );
    expect(h.get({ agent: 'marie' })).toEqual({ count: 5, sum: 56.05 });
  });

  it('escapes label values and help text', () => {
    const r = new Registry();
    r.counter({ name: 'x_total', help: 'Line one\nback\\slash', labelNames: ['v'] }).inc({ v: 'say "hi"\nback\\slash' });
    const text = r.expose();
    expect(text).toContain('# HELP x_total Line one\\nback\\\\slash\n');
    expect(text).toContain('x_total{v="say \\"hi\\"\\nback\\\\slash"} 1\n');
    checkWellFormed(text);
    expect(escapeLabelValue('a"b')).toBe('a\\"b');
  });

  it('formats special values', () => {
    expect(formatValue(Infinity)).toBe('+Inf');
    expect(formatValue(-Infinity)).toBe('-Inf');
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue(1.5)).toBe('1.5');
    expect(formatValue(1e21)).toBe('1e+21');
  });

  it('rejects bad names, missing or unknown labels, duplicates and counters going down', () => {
    const r = new Registry();
    expect(() => r.counter({ name: '1bad', help: '' })).toThrow(/invalid metric name/);
    expect(() => r.counter({ name: 'ok_total', help: '', labelNames: ['le'] })).toThrow(/invalid label name/);
    const c = r.counter({ name: 'c_total', help: '', labelNames: ['a'] });
    expect(() => c.inc({})).toThrow(/needs label "a"/);
    expect(() => c.inc({ a: 'x', b: 'y' })).toThrow(/no label "b"/);
    expect(() => c.inc({ a: 'x' }, -1)).toThrow(/only go up/);
    expect(() => r.gauge({ name: 'c_total', help: '' })).toThrow(/registered twice/);
    expect(() => r.histogram({ name: 'h', help: '', buckets: [1, 1] })).toThrow(/increase/);
  });

  it('registers the seed systems names and hornets own, all well formed', () => {
    const m = createHornetsMetrics();
    m.tasksProcessed.inc({ worker: 'marie', status: 'completed' });
    m.tasksFailed.inc({ worker: 'marie', reason: 'timeout' });
    m.taskDuration.observe({ worker: 'marie' }, 42);
    m.taskQueueSize.set({ worker: 'marie' }, 2);
    m.activeTasks.set({ worker: 'marie' }, 1);
    m.circuitBreakerState.set({ worker: 'marie' }, breakerValue['half-open']);
    m.deliveryLatency.observe({ agent: 'marie' }, 0.2);
    m.hookDuration.observe({ event: 'PostToolUse' }, 0.003);
    m.agentRestarts.inc({ agent: 'marie' });
    m.messages.set({ agent: 'marie', state: 'queued' }, 4);
    const text = m.registry.expose();
    checkWellFormed(text);
    for (const [name, type] of [
      ['watcher_tasks_processed_total', 'counter'],
      ['watcher_tasks_failed_total', 'counter'],
      ['watcher_task_duration_seconds', 'histogram'],
      ['watcher_task_queue_size', 'gauge'],
      ['watcher_active_tasks', 'gauge'],
      ['watcher_circuit_breaker_state', 'gauge'],
      ['hornets_delivery_latency_seconds', 'histogram'],
      ['hornets_hook_duration_seconds', 'histogram'],
      ['hornets_agent_restarts_total', 'counter'],
      ['hornets_messages', 'gauge'],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
    }
    expect(text).toContain('watcher_tasks_processed_total{worker="marie",status="completed"} 1\n');
    expect(text).toContain('watcher_circuit_breaker_state{worker="marie"} 2\n');
    expect(text).toContain('hornets_messages{agent="marie",state="queued"} 4\n');
    expect(text).toContain('hornets_hook_duration_seconds_bucket{event="PostToolUse",le="0.005"} 1\n');
  });
});

describe('seed 004 names', () => {
  it('tasks_total/completed/failed and task_duration_seconds follow the task ends with the node label; the gauges come from the watcher gauges', () => {
    const m = createHornetsMetrics(undefined, { node: 'alpha' });
    recordTaskTaken(m, 'marie');
    recordTaskTaken(m, 'marie');
    recordTaskEnded(m, 'marie', 'completed', 3);
    recordTaskEnded(m, 'marie', 'failed', 7);
    recordTaskEnded(m, 'marie', 'cancelled', null);
    m.taskQueueSize.set({ worker: 'marie' }, 2);
    m.taskQueueSize.set({ worker: 'tester' }, 5);
    m.activeTasks.set({ worker: 'marie' }, 1);
    m.activeTasks.set({ worker: 'tester' }, 0);
    collectSeedGauges(m);
    const text = m.registry.expose();
    checkWellFormed(text);
    expect(text).toContain('tasks_total{node="alpha",worker="marie"} 2\n');
    expect(text).toContain('tasks_completed{node="alpha",worker="marie"} 1\n');
    expect(text).toContain('tasks_failed{node="alpha",worker="marie"} 1\n');
    expect(text).toContain('task_duration_seconds_count{node="alpha",worker="marie"} 2\n');
    expect(text).toContain('pending_tasks{node="alpha"} 7\n');
    expect(text).toContain('workers_active{node="alpha"} 1\n');
    // The watcher_* families keep their names and labels.
    expect(text).toContain('watcher_tasks_processed_total{worker="marie",status="cancelled"} 1\n');
    expect(text).toContain('watcher_task_duration_seconds_count{worker="marie"} 2\n');
    for (const [name, type] of [
      ['tasks_total', 'counter'],
      ['tasks_completed', 'counter'],
      ['tasks_failed', 'counter'],
      ['task_duration_seconds', 'histogram'],
      ['workers_active', 'gauge'],
      ['pending_tasks', 'gauge'],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
    }
  });
});

describe('pending_tasks on a team', () => {
  it("counts a shared worker's queue once across the nodes that serve it: each reports its share", () => {
    const m = createHornetsMetrics(undefined, { node: 'alpha' });
    m.taskQueueSize.set({ worker: 'tester' }, 9);
    m.taskQueueSize.set({ worker: 'marie' }, 2);
    collectSeedGauges(m, new Map([['tester', 3]]));
    expect(m.seed.pendingTasks.get({ node: 'alpha' })).toBe(5);
    // No live node known (0): the whole queue, never a division by zero.
    collectSeedGauges(m, new Map([['tester', 0]]));
    expect(m.seed.pendingTasks.get({ node: 'alpha' })).toBe(11);
  });

  it('one scrape agrees with itself: pending_tasks is derived from the queue sizes it shows, though a task starts during the scrape', async () => {
    const m = createHornetsMetrics(undefined, { node: 'alpha' });
    m.taskQueueSize.set({ worker: 'tester' }, 7);
    const runDir = mkdtempSync(join(tmpdir(), 'hornets-metrics-'));
    const s = new MetricsServer({
      registry: m.registry,
      port: 0,
      runDir,
      log: pino({ level: 'silent' }),
      health: () => ({ status: 'ok', agents: [] }),
      // As the daemon's store reads: awaits, during which the pool takes a task off the queue.
      collect: async () => {
        await new Promise((r) => setImmediate(r));
        m.taskQueueSize.set({ worker: 'tester' }, 6);
        await new Promise((r) => setImmediate(r));
      },
      derive: () => collectSeedGauges(m, new Map([['tester', 2]])),
    });
    await s.start();
    try {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      expect(text).toContain('watcher_task_queue_size{worker="tester"} 6\n');
      expect(text).toContain('pending_tasks{node="alpha"} 3\n');
    } finally {
      await s.stop();
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});

describe('metrics server address', () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const server = (host?: string) => {
    const runDir = mkdtempSync(join(tmpdir(), 'hornets-metrics-'));
    dirs.push(runDir);
    return new MetricsServer({ registry: new Registry(), port: 0, ...(host ? { host } : {}), runDir, log, health: () => ({ status: 'ok', agents: [] }) });
  };

  it('binds 127.0.0.1 by default and says nothing about exposure', async () => {
    lines.length = 0;
    const s = server();
    await s.start();
    try {
      expect(s.host).toBe('127.0.0.1');
      expect(s.url).toBe(`http://127.0.0.1:${s.port}`);
      expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
      expect(lines.join('')).not.toContain('metrics_server_exposed');
    } finally {
      await s.stop();
    }
  });

  it('binds a configured wildcard address, logs it as exposed, and the local URL goes through loopback', async () => {
    lines.length = 0;
    const s = server('0.0.0.0');
    await s.start();
    try {
      expect(s.url).toBe(`http://127.0.0.1:${s.port}`);
      expect((await fetch(`${s.url}/metrics`)).status).toBe(200);
      const exposed = lines.map((l) => JSON.parse(l) as { event?: string; host?: string }).find((l) => l.event === 'metrics_server_exposed');
      expect(exposed?.host).toBe('0.0.0.0');
    } finally {
      await s.stop();
    }
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.5'].some(isLoopbackHost)).toBe(false);
  });
});
