/** zod schemas for hornets.json and agent profiles; the JSON Schema files in schema/ are generated from these. */
import * as z from 'zod';
import { PRIORITY_MAX, PRIORITY_MIN } from '../domain/priority.js';
import { durationMs, parseDuration } from '../domain/duration.js';
import { redisClusterNodeProblem, redisUrlProblem } from './redis-url.js';
import { MAX_LEADER_LEASE_MS, MIN_LEADER_LEASE_MS } from '../domain/leader-timing.js';
import { attachTemplateProblem, DEFAULT_REMOTE_ATTACH } from '../domain/attach-command.js';

// Re-exported: it lives in domain/duration.ts so code on the CLI's hot path need not load zod.
export { durationMs };

/** Agent names become tmux window names, branch names and directory names: keep them boring. */
export const AGENT_NAME_RE = /^[a-z][a-z0-9_-]{0,31}$/;
export const agentNameRule = 'lower-case letter first, then lower-case letters, digits, "-" or "_", at most 32 characters (it names a tmux window, a git branch and a directory)';

const agentName = z.string().regex(AGENT_NAME_RE, { message: `invalid agent name: ${agentNameRule}` });
const nodeName = z
  .string()
  .regex(AGENT_NAME_RE, { message: `invalid node name: ${agentNameRule}` })
  .describe('Node (host) that runs the agent when the queue is in Redis: the `--node` name (or HORNETS_NODE, or the host name) of the process that starts it; ignored on SQLite');

/**
 * An agent environment reaches its pane through a file the pane's shell sources (never argv, where
 * any local user could read it): only names a shell can export.
 */
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const agentEnv = z.record(z.string(), z.string().regex(/^[^\0]*$/, { message: 'an environment value cannot hold a NUL character' })).superRefine((env, ctx) => {
  for (const name of Object.keys(env)) {
    if (!ENV_NAME_RE.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: `invalid environment variable name "${name}": a letter or "_" first, then letters, digits or "_"` });
  }
});

const duration = z
  .union([z.string(), z.number().positive()])
  .refine(
    (v) => {
      if (typeof v === 'number') return true;
      try {
        parseDuration(v);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'expected a duration such as "30s", "5m", "2h", "1d" or a number of seconds' },
  )
  .describe('Duration: "500ms", "30s", "5m", "2h", "1d", "1h30m" or a number of seconds');

const priority = z.number().int().min(PRIORITY_MIN).max(PRIORITY_MAX).describe('0–9 normal, 10–49 high, 50–99 critical, 100+ emergency/system, 200 rebrief');

export const queueConfigSchema = z
  .object({
    maxDepth: z.number().int().min(1).max(1_000_000).default(10_000).describe('Pending messages allowed per agent'),
    maxBodyKiB: z.number().int().min(1).max(4096).default(256).describe('Largest message accepted, in KiB'),
    maxAttempts: z.number().int().min(1).max(100).default(5).describe('Delivery attempts before a message is dead-lettered'),
    retryBackoff: duration.default('2s').describe('First retry delay; doubles per attempt'),
    retryBackoffMax: duration.default('5m'),
    leaseTimeout: duration
      .default('30s')
      .describe('How long a push delivery (typing into a pane) may hold a message before it counts as a failed attempt; hooks hold theirs 10 s, just long enough to write their reply'),
    synchronous: z.enum(['NORMAL', 'FULL']).default('NORMAL').describe('SQLite durability: NORMAL survives process crashes (kill -9); FULL also survives power loss, at a cost per commit'),
  })
  .strict();

const restartConfigSchema = z
  .object({
    maxRestarts: z.number().int().min(0).max(1000).default(3).describe('Restarts allowed per agent within `window` before the circuit breaker opens (env CIRCUIT_BREAKER_THRESHOLD)'),
    window: duration.default('1h').describe('Rolling window of the restart limit; also when a half-open trial restart is made (env CIRCUIT_BREAKER_WINDOW)'),
    backoff: duration.default('2s').describe('First restart delay; doubles per consecutive crash, with jitter'),
    backoffMax: duration.default('5m').describe('Longest restart delay'),
  })
  .strict();

/** A duration within bounds; a value that is no duration at all is reported by `duration` itself. */
function lostNotAfterBeat(heartbeat: string | number, lostAfter: string | number): boolean {
  try {
    return durationMs(lostAfter) <= durationMs(heartbeat);
  } catch {
    return false; // a malformed duration has its own issue
  }
}

function inRange(v: string | number, minMs: number, maxMs: number): boolean {
  try {
    const ms = durationMs(v);
    return ms >= minMs && ms <= maxMs;
  } catch {
    return true;
  }
}

export const daemonConfigSchema = z
  .object({
    heartbeatInterval: duration.default('10s').describe('How often .hornets/heartbeats/*.json are rewritten (env HEARTBEAT_INTERVAL)'),
    integrityCheckInterval: duration.default('10m').describe('How often the engine runs SQLite quick_check on the queue database (also once at start); damage stops writes and is reported everywhere'),
    metricsPort: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(0)
      .describe('Port of the Prometheus /metrics, /healthz and /readyz server (on metricsHost); 0 picks a free port, written to .hornets/run/metrics-endpoint (env METRICS_PORT)'),
    metricsHost: z
      .union([z.ipv4(), z.ipv6()])
      .default('127.0.0.1')
      .describe(
        'Address the metrics server listens on: 127.0.0.1 (the default) keeps it to this machine; 0.0.0.0 (a container, so Prometheus and the probes reach it) or another address exposes it, which the engine logs at start (env METRICS_HOST)',
      ),
    restart: restartConfigSchema.default(() => restartConfigSchema.parse({})),
    taskTimeout: duration.default('30m').describe('Default time a task may run (from delivery to the agent) before it counts as failed and is retried (env TASK_TIMEOUT)'),
    taskMaxRetries: z.number().int().min(0).max(100).default(2).describe('Default retries of a failed or timed-out task (env MAX_RETRIES)'),
    taskRetryBackoff: duration.default('10s').describe('First delay before a task is retried; doubles per attempt (env RETRY_BACKOFF)'),
    maxConcurrentTasks: z.number().int().min(1).max(1000).default(4).describe('Task workers: one-shot runs at once per worker that sets no maxConcurrent (env MAX_CONCURRENT_TASKS)'),
    deliveryHoldAlert: duration
      .default('30s')
      .describe('A permission prompt on the screen of an agent without hooks that holds its messages this long is escalated: logged once, shown in status, named by `queue why`'),
    leaderLease: duration
      .default('6s')
      .refine((v) => inRange(v, MIN_LEADER_LEASE_MS, MAX_LEADER_LEASE_MS), { message: 'must be between 1s and 5m' })
      .describe(
        'Redis teams: the lease of the leader that runs the cluster-wide duties (lease sweep, TTL expiry, dead-lettering, retention). It renews every third of it; when the leader dies another node takes over within about leaderLease + min(1s, leaderLease/3). Shorter is a faster takeover and more Redis traffic; ignored on SQLite',
      ),
    nodeHeartbeat: duration
      .default('2s')
      .refine((v) => inRange(v, 100, 60_000), { message: 'must be between 100ms and 1m' })
      .describe('Redis teams: how often a node renews its registration (one round trip, which also renews the leader lease it holds); ignored on SQLite'),
    nodeLostAfter: duration
      .default('6s')
      .refine((v) => inRange(v, 1_000, 600_000), { message: 'must be between 1s and 10m' })
      .describe(
        "Redis teams: a node not heard from for this long is shown lost (its agents too) and its leases may be taken over; it keeps its name for twice this, so a Redis stall, network cut or failover shorter than that costs it nothing. Must be longer than nodeHeartbeat. On Redis Cluster make twice this longer than a failover there takes (cluster-node-timeout plus a few seconds: with Redis' default 15 s, 10s or more); ignored on SQLite",
      ),
    workerLease: duration
      .default('30s')
      .refine((v) => inRange(v, 1_000, 3_600_000), { message: 'must be between 1s and 1h' })
      .describe(
        "Task workers: the lease of a claimed run, renewed every third of it while the run goes. On a Redis team a run whose node stops renewing (died, cut off) is taken over by another node's engine once it lapses and runs again there",
      ),
    workerRetryBackoff: z
      .number()
      .min(1)
      .max(10)
      .default(2)
      .describe("Task workers: multiplier of the retry delay per further attempt (seed RETRY_BACKOFF as a plain number, e.g. 2.0); a worker entry's retryBackoff wins"),
    workerInitialRetryDelay: duration.default('1s').describe('Task workers: delay before the first retry of a failed run (env INITIAL_RETRY_DELAY)'),
    workerRetryDelayMax: duration.default('5m').describe('Task workers: longest retry delay'),
    workerBreakerThreshold: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(5)
      .describe("Task workers: consecutive failed runs that open the worker's circuit breaker; 0 turns it off (env CIRCUIT_BREAKER_THRESHOLD)"),
    workerBreakerTimeout: duration.default('60s').describe('Task workers: how long an open breaker waits before one half-open trial run (env CIRCUIT_BREAKER_TIMEOUT)'),
    hookPort: z.number().int().min(0).max(65535).default(0).describe('Port of the hook endpoint on 127.0.0.1; 0 picks a free port at each start. A fixed port is needed for hookTransport "http"'),
    hookTransport: z
      .enum(['command', 'http'])
      .default('command')
      .describe(
        'How Claude Code agents reach the engine on every tool round (PostToolUse): "command" runs the hook client (checks the engine\'s proof, falls back to the database when no engine runs); "http" is a Claude Code http hook to 127.0.0.1:hookPort, with no process at all, but nothing proves the answer comes from the engine: while no engine runs, whatever holds that port gets the hook\'s payload and the agent\'s hook credential and can answer it. For machines with no other users. Other events stay command hooks',
      ),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.hookTransport === 'http' && d.hookPort === 0) {
      ctx.addIssue({ code: 'custom', path: ['hookPort'], message: 'hookTransport "http" needs a fixed hookPort (1–65535): the agents\' hook settings name the port' });
    }
  });

export const retentionConfigSchema = z
  .object({
    maxAge: duration
      .default('7d')
      .refine((v) => durationMs(v) >= 3_600_000, { message: 'must be at least 1h (the engine counts restarts over the last hour)' })
      .describe(
        'Finished messages (confirmed, dead, expired, cancelled) with their events, finished tasks and agent events older than this are pruned by the engine and `queue prune` (env RETENTION_MAX_AGE)',
      ),
    interval: duration.default('1h').describe('How often the engine prunes (also once at start)'),
    logMaxMiB: z.number().min(1).max(1024).default(10).describe('.hornets/logs/hornets.log rotates when it reaches this size (MiB)'),
    logFiles: z.number().int().min(1).max(100).default(5).describe('Rotated log files kept (hornets.log.1 … .N)'),
  })
  .strict();

export const consoleConfigSchema = z
  .object({
    keys: z
      .record(z.string(), z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]))
      .optional()
      .describe('Key overrides for the console: action -> key or keys, e.g. {"restart": "C-r", "attach": ["enter", "o"]}; `?` in the console lists the actions'),
    theme: z.enum(['auto', 'color', 'mono']).default('auto').describe('auto: colour unless NO_COLOR is set or the terminal has fewer than 8 colours'),
    refresh: duration.default('500ms').describe('How often the console re-reads the queue and agent state'),
  })
  .strict();

export const webhookConfigSchema = z
  .object({
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), { message: 'must be an http:// or https:// URL' })
      .describe('Where to POST: a Slack incoming webhook or any receiver of the documented JSON body (the URL may carry a token: it is never logged)'),
    timeout: duration.default('5s').describe('Each POST gives up after this'),
    retries: z.number().int().min(0).max(20).default(3).describe('Retries after a failed POST (a network error, a timeout or a 5xx/429), with backoff'),
    backoff: duration.default('1s').describe('First retry delay; doubled for each further retry'),
    queue: z.number().int().min(1).max(10_000).default(100).describe('Notifications waiting while the receiver is down; when full the oldest is dropped (and counted in the log)'),
  })
  .strict();

export const notifyConfigSchema = z
  .object({
    quiet: duration.default('5m').describe('No second notification for the same agent and state within this (an agent flapping needs-input -> busy -> needs-input is told once)'),
    bell: z.boolean().default(false).describe('The console rings the terminal bell when an agent starts to need you'),
    desktop: z
      .enum(['off', 'osc9', 'osc777'])
      .default('off')
      .describe('The console asks the terminal for a desktop notification: OSC 9 (iTerm2, Windows Terminal, kitty, WezTerm) or OSC 777 (foot, Ghostty, VTE, urxvt)'),
    tmuxStatus: z.boolean().default(false).describe('The engine shows who needs you in the status line (status-right) of the hornets private tmux server'),
    notifySend: z.boolean().default(false).describe('The engine runs `notify-send` (libnotify) for each notification where it is installed'),
    webhook: webhookConfigSchema.optional().describe('The engine POSTs each notification as JSON (Slack-compatible `text` field)'),
  })
  .strict();

export const watchConfigSchema = z
  .object({
    mode: z
      .enum(['events', 'poll'])
      .default('events')
      .describe(
        'How the engine finds trigger and task files: "events" (inotify, at once; a scan every 15 s is the safety net) or "poll" (a scan every `interval`, no inotify): use poll when .hornets/triggers or .hornets/tasks is on a network volume (NFS, SMB, EFS, a shared Kubernetes volume) that other hosts write to, since their files raise no event here',
      ),
    interval: duration
      .default('2s')
      .refine((v) => durationMs(v) >= 100 && durationMs(v) <= 3_600_000, { message: 'must be between 100ms and 1h' })
      .describe('Poll mode: how often the directories are scanned (100ms–1h)'),
  })
  .strict();

const attachTemplate = z.union([z.string(), z.array(z.string().min(1))]).superRefine((v, ctx) => {
  const problem = attachTemplateProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const attachConfigSchema = z
  .object({
    remote: attachTemplate
      .default(DEFAULT_REMOTE_ATTACH)
      .describe(
        'Command that attaches to an agent on another node (Redis team): split into words first, then {host}, {pod}, {node}, {socket}, {session}, {pane}, {window} and {agent} are replaced inside each word (never through a shell). Default "ssh -t {host} tmux -L {socket} attach -t {pane}"; for containers e.g. "kubectl exec -it {pod} -- tmux -L {socket} attach -t {pane}"',
      ),
    hosts: z
      .record(nodeName, z.string().regex(/^[^\s\0]+$/, { message: 'a host is one word (no spaces)' }))
      .optional()
      .describe('node -> address for {host}, when the host name a node records is not how this machine reaches it (e.g. {"gpu1": "admin@10.0.0.5"})'),
  })
  .strict();

/** redis:// or rediss:// with a host; a password may be in it (it is never logged: see redactRedisUrl). */
export const redisUrl = z.string().superRefine((v, ctx) => {
  const problem = redisUrlProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** A Redis Cluster node: a Redis URL without a database (a cluster has only database 0). */
export const redisClusterNode = z.string().superRefine((v, ctx) => {
  const problem = redisClusterNodeProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const storeConfigSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('sqlite') }).strict(),
    z
      .object({
        kind: z.literal('redis'),
        url: redisUrl.optional().describe('redis://[:password@]host[:port][/db]; REDIS_URL, or REDIS_HOST/REDIS_PORT/REDIS_PASSWORD, override it'),
        cluster: z
          .array(redisClusterNode)
          .min(1, { message: 'name at least one node of the cluster' })
          .max(100)
          .optional()
          .describe('Redis Cluster instead of one server: redis://[:password@]host:port of some of its nodes (the rest are found); REDIS_CLUSTER_NODES overrides it'),
        prefix: z
          .string()
          .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, { message: 'prefix must be lower-case letters, digits, "-" or "_" (at most 40)' })
          .optional()
          .describe('Key prefix of this team in Redis (hornets:<prefix>:…); default: the project name'),
        connectTimeout: duration.default('5s').describe('How long a command waits for Redis to answer at start before it gives up with an error'),
        failoverWait: duration.default('5s').describe('Redis Cluster: how long an operation waits out a slot being migrated or a master being failed over before it fails with an error'),
      })
      .strict(),
  ])
  .superRefine((v, ctx) => {
    if (v.kind !== 'redis') return;
    if (v.url === undefined && v.cluster === undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: 'a Redis store needs "url" (one server) or "cluster" (the nodes of a Redis Cluster)' });
    if (v.url !== undefined && v.cluster !== undefined) ctx.addIssue({ code: 'custom', path: ['cluster'], message: 'give either "url" (one server) or "cluster" (a Redis Cluster), not both' });
  })
  .describe('Where the queue lives: SQLite in .hornets (default, nothing to install) or Redis (a team across several hosts; one server or a Redis Cluster)');

/** hooks: pull through the agent's hooks; push: type into its pane; hybrid: pull, plus a push nudge when idle. */
const deliveryMode = z.enum(['hooks', 'push', 'hybrid']);

export const agentConfigSchema = z
  .object({
    name: agentName,
    profile: z.string().min(1).describe('Profile name: a file in profiles/ (built in) or in the project profilesDir'),
    worktree: z.string().min(1).optional().describe('Existing directory to run the agent in (relative to hornets.json); default: a git worktree per agent'),
    branch: z.string().min(1).optional().describe('Branch for the agent worktree; default hornets/<name>'),
    briefing: z.string().min(1).optional().describe('Briefing file (relative to hornets.json) given at session start and in every rebrief'),
    role: z.string().max(20_000).optional().describe('Role text added to the briefing'),
    priority: priority.optional().describe('Default priority of messages sent to this agent'),
    ttl: duration.optional().describe('Default time-to-live of messages sent to this agent'),
    maxDepth: z.number().int().min(1).max(1_000_000).optional(),
    node: nodeName.optional(),
    env: agentEnv.optional().describe('Extra environment for the agent process'),
    delivery: deliveryMode.optional().describe('This agent\'s delivery instead of its profile\'s (hooks, push or hybrid); see README, "Delivery modes"'),
    budget: z
      .object({
        usd: z.number().positive().optional().describe('Cost in USD (from the price table) over which delivery to the agent pauses'),
        tokens: z.number().int().positive().optional().describe('Tokens (input, output, cache read and cache creation together) over which delivery pauses'),
      })
      .strict()
      .optional()
      .describe('Over either limit the agent is marked over-budget and nothing more is delivered to it (messages wait) until `resume <agent>` or a raised budget'),
  })
  .strict();

/**
 * A task worker (seed 003): runs each of its tasks as one one-shot process of its profile's
 * `oneShot` command, up to `maxConcurrent` at a time. Unset settings come from the `daemon` section
 * (and so from the seed's environment variables).
 */
export const workerConfigSchema = z
  .object({
    kind: z.literal('worker').describe('A task worker: one-shot agent runs per task (seed 003), beside the interactive agents'),
    name: agentName,
    profile: z.string().min(1).describe('Profile with a `oneShot` command (e.g. demo-oneshot, claude-oneshot)'),
    worktree: z.string().min(1).optional().describe('Directory the runs work in (relative to hornets.json) when the task names none; default: a scratch directory per task'),
    maxConcurrent: z.number().int().min(1).max(1000).optional().describe('Runs at once; default daemon.maxConcurrentTasks (env MAX_CONCURRENT_TASKS)'),
    timeout: duration.optional().describe('Time limit of one run; default daemon.taskTimeout (env TASK_TIMEOUT)'),
    maxRetries: z.number().int().min(0).max(100).optional().describe('Retries after a failed run; default daemon.taskMaxRetries (env MAX_RETRIES)'),
    retryBackoff: z.number().min(1).max(10).optional().describe('Retry delay multiplier; default daemon.workerRetryBackoff (env RETRY_BACKOFF as a plain number)'),
    initialRetryDelay: duration.optional().describe('First retry delay; default daemon.workerInitialRetryDelay (env INITIAL_RETRY_DELAY)'),
    breakerThreshold: z.number().int().min(0).max(1000).optional().describe('Consecutive failed runs that open the breaker; default daemon.workerBreakerThreshold (env CIRCUIT_BREAKER_THRESHOLD)'),
    breakerTimeout: duration.optional().describe('Open breaker -> half-open trial after this; default daemon.workerBreakerTimeout (env CIRCUIT_BREAKER_TIMEOUT)'),
    env: agentEnv.optional().describe('Extra environment for the runs'),
    nodes: z
      .array(nodeName)
      .min(1)
      .optional()
      .describe("Redis teams: the nodes whose engines run this worker's tasks (each takes the next task when it has a free slot); default every node. Ignored on SQLite"),
  })
  .strict();

export const hornetsConfigSchema = z
  .object({
    $schema: z.string().optional(),
    project: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, { message: 'project must be lower-case letters, digits, "-" or "_" (at most 40), starting with a letter or digit' })
      .describe('Project name; names the private tmux server (hornets-<project>)'),
    profilesDir: z.string().optional().describe('Directory with project profiles (override built-in ones of the same name)'),
    worktreesDir: z.string().optional().describe('Where agent worktrees are created; default .hornets/worktrees'),
    defaults: z
      .object({
        priority: priority.default(5),
        ttl: duration.optional(),
        node: nodeName.optional().describe('Node of agents that name none (Redis store only)'),
        delivery: deliveryMode.optional().describe("Delivery of agents that name none, instead of their profiles' (hooks, push or hybrid)"),
      })
      .strict()
      .default({ priority: 5 }),
    queue: queueConfigSchema.default(() => queueConfigSchema.parse({})),
    store: storeConfigSchema.default({ kind: 'sqlite' }),
    daemon: daemonConfigSchema.default(() => daemonConfigSchema.parse({})).describe('The engine (`--headless`, `daemon run`): heartbeats, metrics, restarts, tasks'),
    retention: retentionConfigSchema.default(() => retentionConfigSchema.parse({})).describe('How long finished queue history is kept'),
    attach: attachConfigSchema.default(() => attachConfigSchema.parse({})).describe('`attach` to an agent on another node: the command it runs'),
    watch: watchConfigSchema.default(() => watchConfigSchema.parse({})).describe('How trigger and task directories are watched: inotify events, or polling for network volumes'),
    console: consoleConfigSchema.optional().describe('The console (`hornets-tui` with no command): key overrides, colours, refresh period'),
    notify: notifyConfigSchema.default(() => notifyConfigSchema.parse({})).describe('Notifications when an agent starts to need you (needs-input, limited, stuck, failed): each channel optional'),
    agents: z.array(agentConfigSchema).min(1, { message: 'at least one agent is needed' }),
    pricing: z
      .record(
        z.string().min(1),
        z
          .object({ input: z.number().min(0), output: z.number().min(0), cacheRead: z.number().min(0), cacheWrite: z.number().min(0) })
          .strict()
          .describe('USD per million tokens'),
      )
      .optional()
      .describe(
        'Prices by model-name prefix (the longest matching prefix wins), over the built-in table of list prices (Anthropic Claude, OpenAI gpt-5 family, Google Gemini 2.5 family; a prefix names a model that is it or goes on with a separator)',
      ),
    workers: z.array(workerConfigSchema).default([]).describe('Task workers (seed 003): each task in .hornets/tasks/<worker>/ runs as its own one-shot agent process'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    // Checked here, not only at the engine's start, so `doctor` and every command name it.
    if (lostNotAfterBeat(cfg.daemon.nodeHeartbeat, cfg.daemon.nodeLostAfter))
      ctx.addIssue({
        code: 'custom',
        path: ['daemon', 'nodeLostAfter'],
        message: `must be longer than daemon.nodeHeartbeat (${cfg.daemon.nodeHeartbeat}): a node would count as lost between two of its own beats`,
      });
    const seen = new Map<string, number>();
    cfg.agents.forEach((a, i) => {
      const first = seen.get(a.name);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['agents', i, 'name'], message: `duplicate agent name "${a.name}" (also agents[${first}])` });
      } else seen.set(a.name, i);
    });
    // Workers share the task, result and tmux namespaces with the agents: one name, one owner.
    const workerSeen = new Map<string, number>();
    cfg.workers.forEach((w, i) => {
      const agent = seen.get(w.name);
      const first = workerSeen.get(w.name);
      if (agent !== undefined) ctx.addIssue({ code: 'custom', path: ['workers', i, 'name'], message: `worker name "${w.name}" is also an agent (agents[${agent}])` });
      else if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['workers', i, 'name'], message: `duplicate worker name "${w.name}" (also workers[${first}])` });
      else workerSeen.set(w.name, i);
    });
  });

const regexString = z.string().refine(
  (s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a valid regular expression' },
);

export const profileSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
    description: z.string().default(''),
    command: z.array(z.string().min(1)).min(1).describe('argv of the agent process; never run through a shell'),
    env: agentEnv.default({}),
    unsetEnv: z
      .array(z.string().regex(ENV_NAME_RE, { message: 'not an environment variable name: a letter or "_" first, then letters, digits or "_"' }))
      .default([])
      .describe("Variables of hornets' own environment the agent process must not inherit (e.g. CI, which turns some CLIs non-interactive)"),
    delivery: deliveryMode.describe('hooks: pull through the agent hooks only; push: type into the pane only; hybrid: pull, plus a push nudge when idle'),
    hooks: z
      .object({
        kind: z.enum(['claude-code', 'codex', 'gemini', 'none']),
        settingsFile: z.string().optional().describe('Where hook settings are installed, relative to the worktree'),
      })
      .strict()
      .default({ kind: 'none' }),
    patterns: z
      .object({
        idle: z.array(regexString).default([]).describe('Pane text that means the agent waits at its prompt'),
        busy: z.array(regexString).default([]).describe('Pane text that means the agent is working'),
        permission: z
          .array(regexString)
          .default([])
          .describe('A line of the live region that means the agent shows a permission prompt (never type then); tested per line, so anchor to the whole line (^…$) as the CLI draws it'),
        error: z.array(regexString).default([]).describe('Pane text that means the agent hit an error (rate limit, auth, crash)'),
        liveLines: z
          .number()
          .int()
          .min(1)
          .max(200)
          .default(12)
          .describe(
            'How many of the last screen lines are the live prompt region where permission, busy and error are read (older output above it is ignored; a permission prompt counts only below the last idle prompt line there, and never on text hornets typed)',
          ),
      })
      .strict()
      .default({ idle: [], busy: [], permission: [], error: [], liveLines: 12 }),
    messageFormat: z
      .enum(['tagged', 'plain'])
      .default('tagged')
      .describe('tagged: "[msg <id> | from <sender>] text" so the agent can spot redeliveries; plain: the text alone (shells, where a prefix would break the command)'),
    resume: z
      .object({
        args: z.array(z.string()).describe('Arguments added to resume a session; "{sessionId}" is replaced'),
      })
      .strict()
      .nullable()
      .default(null),
    startupTimeout: duration.default('60s'),
    oneShot: z
      .object({
        command: z
          .array(z.string().min(1))
          .min(1)
          .describe(
            'argv of one non-interactive run (never a shell); with prompt "argv", "{prompt}" inside a word is replaced by the task\'s prompt, e.g. ["claude", "-p", "{prompt}", "--output-format", "json"]',
          ),
        prompt: z
          .enum(['argv', 'stdin'])
          .default('argv')
          .describe('How the task\'s prompt reaches the run: "stdin" (written to its standard input, never visible in `ps`) or "argv" (in place of "{prompt}" in the command)'),
        output: z
          .enum(['claude-json', 'codex-jsonl', 'gemini-json', 'text'])
          .default('claude-json')
          .describe(
            'How the run\'s stdout is read: "claude-json" (one JSON object as `claude -p --output-format json` prints: result, is_error, usage, total_cost_usd), "codex-jsonl" (the events of `codex exec --json`), "gemini-json" (the object of `gemini --output-format json`: response, stats, error) or "text" (all of it is the final text)',
          ),
      })
      .strict()
      .optional()
      .describe('Task workers: how this CLI runs once per task'),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.oneShot) {
      const placed = p.oneShot.command.some((w) => w.includes('{prompt}'));
      if (p.oneShot.prompt === 'argv' && !placed)
        ctx.addIssue({ code: 'custom', path: ['oneShot', 'command'], message: 'no "{prompt}" in the command: put it in a word, or set oneShot.prompt to "stdin"' });
      if (p.oneShot.prompt === 'stdin' && placed)
        ctx.addIssue({ code: 'custom', path: ['oneShot', 'command'], message: 'oneShot.prompt is "stdin": the command must not hold "{prompt}" (it would show the prompt in `ps`)' });
    }
    if (p.delivery !== 'push' && p.hooks.kind === 'none') {
      ctx.addIssue({ code: 'custom', path: ['delivery'], message: `delivery "${p.delivery}" needs hooks; set hooks.kind or use delivery "push"` });
    }
  });

export type HornetsConfig = z.output<typeof hornetsConfigSchema>;
export type AgentConfig = z.output<typeof agentConfigSchema>;
export type WorkerConfig = z.output<typeof workerConfigSchema>;
export type QueueConfig = z.output<typeof queueConfigSchema>;
export type DaemonConfig = z.output<typeof daemonConfigSchema>;
export type ConsoleConfig = z.output<typeof consoleConfigSchema>;
export type NotifyConfig = z.output<typeof notifyConfigSchema>;
export type WebhookConfig = z.output<typeof webhookConfigSchema>;
export type WatchConfig = z.output<typeof watchConfigSchema>;
export type Profile = z.output<typeof profileSchema>;
