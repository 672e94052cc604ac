/**
 * A tiny Prometheus registry (counters, gauges, histograms with labels; text exposition format
 * 0.0.4) and the HTTP server that serves it with /healthz (liveness) and /readyz (readiness), on
 * 127.0.0.1 unless daemon.metricsHost / METRICS_HOST says otherwise (a container's 0.0.0.0). No
 * dependency: the format is a few lines of text.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { tokenKinds, type AgentUsage, type TokenCounts } from '../domain/usage.js';
import type { MessageStore } from '../queue/store.js';
import { messageStates } from '../domain/message.js';
import { priorityBands } from '../domain/priority.js';
import type { AgentRecord } from '../domain/agent.js';
import { displayAgent, displayColours } from '../domain/agent-display.js';
import { writeFileAtomicSync } from '../util/private-files.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export type Labels = Record<string, string | number>;

/** Value formatting per the exposition format: +Inf, -Inf, NaN, otherwise a Go-parsable float. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i]!)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

interface MetricSpec {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

abstract class Metric<Cell> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly cells = new Map<string, { values: string[]; cell: Cell }>();
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  constructor(spec: MetricSpec) {
    if (!NAME_RE.test(spec.name)) throw new Error(`invalid metric name "${spec.name}"`);
    for (const l of spec.labelNames ?? []) {
      if (!LABEL_RE.test(l) || l.startsWith('__') || l === 'le') throw new Error(`invalid label name "${l}" for ${spec.name}`);
    }
    this.name = spec.name;
    this.help = spec.help;
    this.labelNames = spec.labelNames ?? [];
  }

  protected abstract fresh(): Cell;

  protected cell(labels: Labels = {}): Cell {
    const keys = Object.keys(labels);
    for (const k of keys) if (!this.labelNames.includes(k)) throw new Error(`metric ${this.name} has no label "${k}" (labels: ${this.labelNames.join(', ') || 'none'})`);
    const values = this.labelNames.map((n) => {
      const v = labels[n];
      if (v === undefined) throw new Error(`metric ${this.name} needs label "${n}"`);
      return String(v);
    });
    const key = JSON.stringify(values);
    let entry = this.cells.get(key);
    if (!entry) {
      entry = { values, cell: this.fresh() };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  /** Drops every labelled series (for gauges rebuilt from a fresh snapshot). */
  reset(): void {
    this.cells.clear();
  }

  protected abstract samples(): string[];

  expose(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`, ...this.samples()];
    return `${lines.join('\n')}\n`;
  }

  protected sorted(): { values: string[]; cell: Cell }[] {
    return [...this.cells.values()].sort((a, b) => (a.values.join('\u0000') < b.values.join('\u0000') ? -1 : 1));
  }
}

export class Counter extends Metric<{ v: number }> {
  readonly type = 'counter' as const;
  protected fresh() {
    return { v: 0 };
  }
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} can only go up (got ${by})`);
    this.cell(labels).v += by;
  }
  /** A counter mirroring a total kept elsewhere (the store's, which outlives the daemon): never goes down. */
  observeTotal(labels: Labels, total: number): void {
    const c = this.cell(labels);
    if (total > c.v) c.v = total;
  }
  get(labels: Labels = {}): number {
    return this.cell(labels).v;
  }
  protected samples(): string[] {
    return this.sorted().map((e) => `${this.name}${labelText(this.labelNames, e.values)} ${formatValue(e.cell.v)}`);
  }
}

export class Gauge extends Metric<{ v: number }> {
  readonly type = 'gauge' as const;
  protected fresh() {
    return { v: 0 };
  }
  set(labels: Labels, v: number): void {
    this.cell(labels).v = v;
  }
  inc(labels: Labels = {}, by = 1): void {
    this.cell(labels).v += by;
  }
  dec(labels: Labels = {}, by = 1): void {
    this.cell(labels).v -= by;
  }
  get(labels: Labels = {}): number {
    return this.cell(labels).v;
  }
  /** Every series' value. */
  values(): number[] {
    return [...this.cells.values()].map((e) => e.cell.v);
  }
  /** Every series as [its first label's value, value]. */
  entries(): [string, number][] {
    return [...this.cells.values()].map((e) => [e.values[0] ?? '', e.cell.v]);
  }
  protected samples(): string[] {
    return this.sorted().map((e) => `${this.name}${labelText(this.labelNames, e.values)} ${formatValue(e.cell.v)}`);
  }
}

export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram extends Metric<{ counts: number[]; sum: number; count: number }> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];

  constructor(spec: MetricSpec & { buckets?: readonly number[] }) {
    super(spec);
    const b = [...(spec.buckets ?? DEFAULT_BUCKETS)].filter((x) => x !== Infinity);
    for (let i = 1; i < b.length; i++) if (!(b[i]! > b[i - 1]!)) throw new Error(`histogram ${spec.name}: buckets must increase`);
    this.buckets = b;
  }
  protected fresh() {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }
  observe(labels: Labels, v: number): void {
    const c = this.cell(labels);
    this.buckets.forEach((le, i) => {
      if (v <= le) c.counts[i]!++;
    });
    c.sum += v;
    c.count++;
  }
  /** Count and sum of one series. */
  get(labels: Labels = {}): { count: number; sum: number } {
    const c = this.cell(labels);
    return { count: c.count, sum: c.sum };
  }
  protected samples(): string[] {
    const out: string[] = [];
    for (const e of this.sorted()) {
      this.buckets.forEach((le, i) => out.push(`${this.name}_bucket${labelText(this.labelNames, e.values, ['le', formatValue(le)])} ${e.cell.counts[i]}`));
      out.push(`${this.name}_bucket${labelText(this.labelNames, e.values, ['le', '+Inf'])} ${e.cell.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, e.values)} ${formatValue(e.cell.sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, e.values)} ${e.cell.count}`);
    }
    return out;
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric<unknown>>();

  private add<M extends Metric<unknown>>(m: M): M {
    if (this.metrics.has(m.name)) throw new Error(`metric ${m.name} is registered twice`);
    this.metrics.set(m.name, m);
    return m;
  }

  counter(spec: MetricSpec): Counter {
    return this.add(new Counter(spec));
  }
  gauge(spec: MetricSpec): Gauge {
    return this.add(new Gauge(spec));
  }
  histogram(spec: MetricSpec & { buckets?: readonly number[] }): Histogram {
    return this.add(new Histogram(spec));
  }

  /** The text exposition format 0.0.4, metrics in registration order. */
  expose(): string {
    return [...this.metrics.values()].map((m) => m.expose()).join('');
  }
}

/** The seed systems' names plus hornets' own; one instance per daemon. */
export interface HornetsMetrics {
  registry: Registry;
  tasksProcessed: Counter;
  tasksFailed: Counter;
  taskDuration: Histogram;
  taskQueueSize: Gauge;
  activeTasks: Gauge;
  circuitBreakerState: Gauge;
  deliveryLatency: Histogram;
  hookDuration: Histogram;
  agentRestarts: Counter;
  messages: Gauge;
  /** Waiting messages by agent and priority band (stores with waitingByBand). */
  queueDepth: Gauge;
  /** 1 for the state the display rule shows (domain/agent-display.ts), 0 for the others. */
  agentState: Gauge;
  watcherFiles: Counter;
  /** 1 while the database is known to be damaged (writes refused), else 0. */
  databaseDamaged: Gauge;
  /** Tokens per agent and kind (input, output, cache_read, cache_creation), as the store counted them. */
  agentTokens: Counter;
  agentCost: Counter;
  /** 1 while delivery to the agent is paused over its budget. */
  agentOverBudget: Gauge;
  /** Tokens of task workers' runs per worker and kind, counted as this engine records each run's end (recordRunUsage). */
  workerTokens: Counter;
  workerCost: Counter;
  /** Seed 004's names, each with this engine's `node` label (see recordTaskTaken, recordTaskEnded). */
  seed: SeedTaskMetrics;
}

/**
 * Seed 004's families. The counters and the histogram follow the watcher_* ones at the same call
 * sites; the two gauges are derived from watcher_task_queue_size and watcher_active_tasks at each
 * scrape, so they can never disagree with them.
 */
export interface SeedTaskMetrics {
  node: string;
  tasksTotal: Counter;
  tasksCompleted: Counter;
  tasksFailed: Counter;
  taskDuration: Histogram;
  workersActive: Gauge;
  pendingTasks: Gauge;
}

/** 0 closed, 1 open, 2 half-open (watcher_circuit_breaker_state). */
export const breakerValue = { closed: 0, open: 1, 'half-open': 2 } as const;

const TASK_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

/** `node`: the engine's node (HORNETS_NODE, or the host name on a single host). */
export function createHornetsMetrics(registry = new Registry(), options: { node?: string } = {}): HornetsMetrics {
  const node = options.node ?? 'local';
  return {
    registry,
    tasksProcessed: registry.counter({ name: 'watcher_tasks_processed_total', help: 'Tasks finished, by worker agent and final status (completed, failed).', labelNames: ['worker', 'status'] }),
    tasksFailed: registry.counter({
      name: 'watcher_tasks_failed_total',
      help: 'Failed task attempts (retried or final), by worker agent and reason (timeout, dead, expired, cancelled, enqueue).',
      labelNames: ['worker', 'reason'],
    }),
    taskDuration: registry.histogram({
      name: 'watcher_task_duration_seconds',
      help: 'Time from a task file being accepted to its result.',
      labelNames: ['worker'],
      buckets: TASK_DURATION_BUCKETS,
    }),
    taskQueueSize: registry.gauge({ name: 'watcher_task_queue_size', help: 'Tasks waiting for their agent (queued or waiting to retry).', labelNames: ['worker'] }),
    activeTasks: registry.gauge({ name: 'watcher_active_tasks', help: 'Tasks the agent is working on (delivered, not finished).', labelNames: ['worker'] }),
    circuitBreakerState: registry.gauge({ name: 'watcher_circuit_breaker_state', help: 'Restart circuit breaker per agent: 0 closed, 1 open, 2 half-open.', labelNames: ['worker'] }),
    deliveryLatency: registry.histogram({
      name: 'hornets_delivery_latency_seconds',
      help: 'Time from enqueue to delivery to the agent.',
      labelNames: ['agent'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    }),
    hookDuration: registry.histogram({
      name: 'hornets_hook_duration_seconds',
      help: 'Time the daemon took to answer a hook event.',
      labelNames: ['event'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    }),
    databaseDamaged: registry.gauge({
      name: 'hornets_database_damaged',
      help: '1 while the queue database is damaged (SQLITE_CORRUPT or a failed quick_check): writes are refused until it is restored.',
    }),
    agentRestarts: registry.counter({ name: 'hornets_agent_restarts_total', help: 'Agent restarts made by the supervisor.', labelNames: ['agent'] }),
    messages: registry.gauge({ name: 'hornets_messages', help: 'Messages per agent and state.', labelNames: ['agent', 'state'] }),
    queueDepth: registry.gauge({
      name: 'hornets_queue_depth',
      help: 'Messages waiting (queued, or failed and waiting to retry) per agent and priority band (normal 0-9, high 10-49, critical 50-99, emergency 100-199, rebrief 200).',
      labelNames: ['agent', 'priority'],
    }),
    agentState: registry.gauge({ name: 'hornets_agent_state', help: 'Agent state as status and the console show it: 1 for the current state, 0 for the others.', labelNames: ['agent', 'state'] }),
    agentTokens: registry.counter({
      name: 'hornets_agent_tokens_total',
      help: "Tokens the agent's CLI recorded (its transcript's usage entries), by kind: input, output, cache_read, cache_creation.",
      labelNames: ['agent', 'kind'],
    }),
    agentCost: registry.counter({ name: 'hornets_agent_cost_usd_total', help: 'Cost in USD of those tokens, from the price table (hornets.json `pricing`).', labelNames: ['agent'] }),
    agentOverBudget: registry.gauge({ name: 'hornets_agent_over_budget', help: '1 while delivery to the agent is paused because it exceeded its budget.', labelNames: ['agent'] }),
    // Seed 004 names no token or cost family, so these follow the agent ones; each engine counts the
    // runs whose end it recorded (a worker several nodes run: sum over the nodes for its total).
    workerTokens: registry.counter({
      name: 'hornets_worker_tokens_total',
      help: "Tokens of the task worker's runs (each run once, every attempt of a retried task), by kind: input, output, cache_read, cache_creation.",
      labelNames: ['worker', 'kind'],
    }),
    workerCost: registry.counter({
      name: 'hornets_worker_cost_usd_total',
      help: "Cost in USD of the task worker's runs: the CLI's own figure when it states one, else priced from the model (hornets.json `pricing`).",
      labelNames: ['worker'],
    }),
    watcherFiles: registry.counter({
      name: 'hornets_watcher_files_total',
      help: 'Trigger and task files taken in, by kind, agent and outcome (accepted, dead).',
      labelNames: ['kind', 'agent', 'outcome'],
    }),
    seed: {
      node,
      tasksTotal: registry.counter({ name: 'tasks_total', help: 'Tasks taken in (task files of agents and workers), by node and worker.', labelNames: ['node', 'worker'] }),
      tasksCompleted: registry.counter({ name: 'tasks_completed', help: 'Tasks that ended completed, by node and worker.', labelNames: ['node', 'worker'] }),
      tasksFailed: registry.counter({ name: 'tasks_failed', help: 'Tasks that ended failed (retries spent), by node and worker.', labelNames: ['node', 'worker'] }),
      taskDuration: registry.histogram({
        name: 'task_duration_seconds',
        help: 'Task execution time (agents: accepted to result; workers: one run), by node and worker.',
        labelNames: ['node', 'worker'],
        buckets: TASK_DURATION_BUCKETS,
      }),
      workersActive: registry.gauge({ name: 'workers_active', help: 'Agents and task workers of this node working on at least one task.', labelNames: ['node'] }),
      pendingTasks: registry.gauge({
        name: 'pending_tasks',
        help: 'Tasks waiting (queued or waiting to retry) for the agents and task workers this node runs; a worker several nodes run counts on each of them.',
        labelNames: ['node'],
      }),
    },
  };
}

/** A task file was taken in (seed 004 tasks_total). */
export function recordTaskTaken(metrics: Pick<HornetsMetrics, 'seed'>, worker: string): void {
  metrics.seed.tasksTotal.inc({ node: metrics.seed.node, worker });
}

/**
 * A task ended: the watcher_* families (status, duration) and seed 004's. `failed` here is a task
 * that failed for good; `seconds` null when the end has no run time (a cancel).
 */
export function recordTaskEnded(metrics: Pick<HornetsMetrics, 'tasksProcessed' | 'taskDuration' | 'seed'>, worker: string, status: 'completed' | 'failed' | 'cancelled', seconds: number | null): void {
  metrics.tasksProcessed.inc({ worker, status });
  const node = metrics.seed.node;
  if (status === 'completed') metrics.seed.tasksCompleted.inc({ node, worker });
  if (status === 'failed') metrics.seed.tasksFailed.inc({ node, worker });
  if (seconds !== null) {
    metrics.taskDuration.observe({ worker }, seconds);
    metrics.seed.taskDuration.observe({ node, worker }, seconds);
  }
}

/**
 * workers_active and pending_tasks from the per-worker watcher gauges (call before a scrape).
 * `sharedBy`: for a task worker whose one queue several live nodes serve, how many: each node
 * reports its share, so the average over a Kubernetes HPA's pods is the queue per pod rather than
 * the whole queue (which would scale the nodes up without end).
 */
export function collectSeedGauges(metrics: HornetsMetrics, sharedBy?: ReadonlyMap<string, number>): void {
  const node = metrics.seed.node;
  let pending = 0;
  for (const [worker, waiting] of metrics.taskQueueSize.entries()) pending += waiting / Math.max(1, sharedBy?.get(worker) ?? 1);
  metrics.seed.pendingTasks.set({ node }, pending);
  metrics.seed.workersActive.set({ node }, metrics.activeTasks.values().filter((v) => v > 0).length);
}

/** Rebuilds the hornets_messages gauges from the store (call before a scrape), and the agent states. */
export async function collectQueueMetrics(metrics: HornetsMetrics, store: Pick<MessageStore, 'stats'> & Partial<Pick<MessageStore, 'listAgents' | 'agentUsage' | 'waitingByBand'>>): Promise<void> {
  const stats = await store.stats();
  metrics.messages.reset();
  for (const a of stats.agents) for (const s of messageStates) metrics.messages.set({ agent: a.agent, state: s }, a.counts[s]);
  if (store.waitingByBand) {
    const waiting = await store.waitingByBand();
    metrics.queueDepth.reset();
    // Every band of every agent, zeros included: a drained band reads 0, not "no data".
    for (const a of stats.agents) for (const b of priorityBands) metrics.queueDepth.set({ agent: a.agent, priority: b.band }, 0);
    for (const w of waiting) metrics.queueDepth.set({ agent: w.agent, priority: w.band }, w.n);
  }
  if (store.listAgents) collectAgentStates(metrics, await store.listAgents());
  if (store.agentUsage) collectUsage(metrics, await store.agentUsage());
}

/** A worker run's end was recorded: its tokens and cost (hornets_worker_tokens_total, hornets_worker_cost_usd_total). */
export function recordRunUsage(metrics: Pick<HornetsMetrics, 'workerTokens' | 'workerCost'>, worker: string, usage: TokenCounts & { costUsd: number }): void {
  for (const k of tokenKinds) metrics.workerTokens.inc({ worker, kind: tokenLabels[k] }, usage[k]);
  metrics.workerCost.inc({ worker }, usage.costUsd);
}

const tokenLabels = { input: 'input', output: 'output', cacheRead: 'cache_read', cacheCreation: 'cache_creation' } as const;

export function collectUsage(metrics: HornetsMetrics, usage: readonly AgentUsage[]): void {
  metrics.agentOverBudget.reset();
  for (const u of usage) {
    for (const k of tokenKinds) metrics.agentTokens.observeTotal({ agent: u.agent, kind: tokenLabels[k] }, u[k]);
    metrics.agentCost.observeTotal({ agent: u.agent }, u.costUsd);
    metrics.agentOverBudget.set({ agent: u.agent }, u.overBudget ? 1 : 0);
  }
}

/**
 * hornets_agent_state from the records through the one display rule, so a scrape says what `status`
 * and the console say. tmux is not asked here (pane 'unknown'): the engine keeps the records current.
 */
export function collectAgentStates(metrics: HornetsMetrics, records: readonly AgentRecord[]): void {
  metrics.agentState.reset();
  for (const r of records) {
    const shown = displayAgent({ record: r, pane: 'unknown' }).state;
    for (const state of Object.keys(displayColours)) metrics.agentState.set({ agent: r.name, state }, state === shown ? 1 : 0);
  }
}

/** Records enqueue -> delivery latency of messages just handed over (e.g. HookServer onHook's `delivered`). */
export async function observeDeliveries(metrics: HornetsMetrics, store: Pick<MessageStore, 'get'>, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    const m = await store.get(id).catch(() => null);
    if (m?.deliveredAt != null) metrics.deliveryLatency.observe({ agent: m.agent }, Math.max(0, m.deliveredAt - m.createdAt) / 1000);
  }
}

export interface HealthInfo {
  /** `ok` and `degraded` answer 200, `unhealthy` 503. */
  status: 'ok' | 'degraded' | 'unhealthy';
  agents: unknown;
  [extra: string]: unknown;
}

/** /readyz: every check must pass; a failing one names what is wrong. */
export interface ReadyInfo {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

export interface MetricsServerOptions {
  registry: Registry;
  /** 0 picks a free port. */
  port: number;
  /** Address to listen on (default 127.0.0.1); anything but loopback is logged as exposed. */
  host?: string;
  /** /readyz; without it /readyz answers as /healthz's status says (503 only when unhealthy). */
  ready?: () => Promise<ReadyInfo>;
  /** The state dir's run/ directory: the URL goes to <runDir>/metrics-endpoint. */
  runDir: string;
  log: Logger;
  health: () => HealthInfo | Promise<HealthInfo>;
  /** Refreshes gauges before each scrape (e.g. collectQueueMetrics). */
  collect?: () => void | Promise<void>;
  /**
   * Derives gauges from others (collectSeedGauges) synchronously, right before the text is made:
   * an await between the two would let the pool change watcher_task_queue_size after pending_tasks
   * was derived from it, and one scrape would contradict itself.
   */
  derive?: () => void;
  clock?: () => number;
}

export function metricsEndpointFile(runDir: string): string {
  return join(runDir, 'metrics-endpoint');
}

export const DEFAULT_METRICS_HOST = '127.0.0.1';

/** Whether an address only this machine reaches (127.0.0.0/8, ::1). */
export function isLoopbackHost(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1' || host === 'localhost';
}

/** GET /metrics, /healthz and /readyz, on 127.0.0.1 unless configured otherwise. */
export class MetricsServer {
  private server: Server | null = null;
  private readonly startedAt: number;
  readonly host: string;
  port = 0;

  constructor(private readonly o: MetricsServerOptions) {
    this.startedAt = (o.clock ?? Date.now)();
    this.host = o.host ?? DEFAULT_METRICS_HOST;
  }

  /** Where a process on this machine reaches the server (a wildcard address is reached through loopback). */
  get url(): string {
    const h = this.host === '0.0.0.0' ? '127.0.0.1' : this.host === '::' ? '::1' : this.host;
    return `http://${h.includes(':') ? `[${h}]` : h}:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.o.log.error({ event: 'metrics_server_error', error: err.message }, 'metrics server error'));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    mkdirSync(this.o.runDir, { recursive: true, mode: 0o700 });
    const file = metricsEndpointFile(this.o.runDir);
    writeFileAtomicSync(file, `${this.url}\n`, 0o600);
    this.o.log.info({ event: 'metrics_server_started', host: this.host, port: this.port }, `metrics on ${this.url}/metrics`);
    if (!isLoopbackHost(this.host)) {
      this.o.log.warn(
        { event: 'metrics_server_exposed', host: this.host, port: this.port },
        `metrics, health and readiness listen on ${this.host}:${this.port}, beyond this machine (daemon.metricsHost / METRICS_HOST): keep the port inside a private network`,
      );
    }
  }

  private async readyFromHealth(): Promise<ReadyInfo> {
    const h = await this.o.health();
    const ok = h.status !== 'unhealthy';
    return { ready: ok, checks: { health: ok ? { ok } : { ok, detail: `healthz says ${h.status}` } } };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    rmSync(metricsEndpointFile(this.o.runDir), { force: true });
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'method not allowed\n');
    try {
      if (path === '/metrics') {
        await this.o.collect?.();
        this.o.derive?.();
        return send(200, PROMETHEUS_CONTENT_TYPE, this.o.registry.expose());
      }
      if (path === '/healthz') {
        const now = (this.o.clock ?? Date.now)();
        const h = await this.o.health();
        const body = { ...h, status: h.status, pid: process.pid, uptime_s: Math.round((now - this.startedAt) / 1000), agents: h.agents };
        return send(h.status === 'unhealthy' ? 503 : 200, 'application/json', `${JSON.stringify(body)}\n`);
      }
      if (path === '/readyz') {
        const r = this.o.ready ? await this.o.ready() : await this.readyFromHealth();
        const failing = Object.entries(r.checks)
          .filter(([, c]) => !c.ok)
          .map(([name]) => name);
        const body = { status: r.ready ? 'ready' : 'not_ready', ...(failing.length ? { failing } : {}), checks: r.checks };
        return send(r.ready ? 200 : 503, 'application/json', `${JSON.stringify(body)}\n`);
      }
      return send(404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.o.log.error({ event: 'metrics_request_failed', path, error: message }, 'metrics request failed');
      if (path === '/healthz') return send(503, 'application/json', `${JSON.stringify({ status: 'unhealthy', pid: process.pid, error: message })}\n`);
      if (path === '/readyz') return send(503, 'application/json', `${JSON.stringify({ status: 'not_ready', failing: ['probe'], checks: { probe: { ok: false, detail: message } } })}\n`);
      return send(500, 'text/plain; charset=utf-8', `error: ${message}\n`);
    }
  }
}
