/** What the CLI and the console ask of the queue, with hornets.json defaults applied. */
import { UsageError } from '../errors.js';
import type { ExportedMessage, Message, MessageState } from '../domain/message.js';
import { pendingStates } from '../domain/message.js';
import { explainMessage, waitsForEngine } from '../domain/explain.js';
import { durationMs } from '../domain/duration.js';
import type { Project } from '../config/load.js';
import type { EnqueueResult, ImportResult, MessageStore, QueueStats } from '../queue/store.js';
import type { Logger } from '../log.js';
import { wakeEngine } from '../engine-client/poke.js';
import { engineStatus } from '../engine-client/status.js';
import type { StoreSelection } from '../config/store-selection.js';
import { agentNode, processNode } from '../config/nodes.js';
import { wakeFrame } from '../cluster/wake-message.js';

// Loaded by export and import only: its zod schemas have no business in `send` or `queue list`.
const jsonl = () => import('../queue/jsonl.js');

export interface SendOptions {
  priority?: number;
  key?: string;
  ttlMs?: number;
  sender?: string;
}

export interface SendResult extends EnqueueResult {
  ahead: number;
  /** Whether an engine runs: without one, a message to an idle agent waits (NO_ENGINE_TEXT). */
  engineRunning: boolean;
  /** The agent is idle and no engine runs: nothing will hand this message over until one does. */
  waitsForEngine: boolean;
}

export interface Explanation {
  id: string;
  state: MessageState;
  why: string;
  engineRunning: boolean;
}

export class QueueService {
  constructor(
    private readonly project: Project,
    private readonly store: MessageStore,
    private readonly log: Logger,
    /** The store this process opened: on Redis an agent of another node is woken through the bus. */
    private readonly selection: StoreSelection = { kind: 'sqlite' },
  ) {}

  /**
   * Gets ready to poke the engine that runs `agent` so it delivers at once: the local one (its pid
   * file), or on a Redis team the engine of the agent's node, on its channel of the cluster bus.
   * That wake goes out on the store's own connection the moment the message is in: a link of its
   * own (loading the bus, connecting, a ready check) held it back by tens of milliseconds, the most
   * of a cross-node wake-up. `fire` resolves whether an engine runs there (null: ask the local pid
   * file); `cancel` closes a link that will not be used.
   */
  private prepareWake(agent: string): { fire: () => Promise<boolean | null>; cancel: () => void } {
    const config = this.agentConfig(agent);
    const node = this.selection.kind === 'redis' ? agentNode(this.project.config, config) : null;
    if (this.selection.kind !== 'redis' || node === null || node === processNode()) {
      return {
        fire: async () => {
          await wakeEngine(this.project.paths.root, agent);
          return null;
        },
        cancel: () => undefined,
      };
    }
    const s = this.selection;
    const publish = this.store.publish?.bind(this.store);
    if (publish) {
      const frame = wakeFrame(s.prefix, node, agent);
      return {
        fire: async () => {
          try {
            return (await publish(frame.channel, frame.message)) > 0;
          } catch (err) {
            // The message is queued either way; the node's engine finds it at its next pass.
            this.log.warn({ event: 'remote_wake_failed', agent, node, error: String(err) }, 'could not wake the engine of another node');
            return false;
          }
        },
        cancel: () => undefined,
      };
    }
    const link = import('../cluster/node-link.js').then((m) => m.openNodeLink({ url: s.url, cluster: s.cluster, prefix: s.prefix, connectTimeoutMs: s.connectTimeoutMs }));
    // Failures are reported by fire(); an unused link must not be an unhandled rejection.
    link.catch(() => undefined);
    return {
      fire: async () => {
        let opened: Awaited<typeof link> | null = null;
        try {
          opened = await link;
          return (await opened.bus.wake(node, agent)) > 0;
        } catch (err) {
          // The message is queued either way; the node's engine finds it at its next pass.
          this.log.warn({ event: 'remote_wake_failed', agent, node, error: String(err) }, 'could not wake the engine of another node');
          return false;
        } finally {
          await opened?.close();
        }
      },
      cancel: () => void link.then((l) => l.close()).catch(() => undefined),
    };
  }

  private agentConfig(name: string) {
    const agent = this.project.config.agents.find((a) => a.name === name);
    if (!agent) {
      throw new UsageError(`unknown agent "${name}" (agents in ${this.project.configPath}: ${this.project.config.agents.map((a) => a.name).join(', ')})`);
    }
    return agent;
  }

  async send(agent: string, body: string, options: SendOptions = {}): Promise<SendResult> {
    const cfg = this.agentConfig(agent);
    const defaults = this.project.config.defaults;
    const ttl = cfg.ttl ?? defaults.ttl;
    const wake = this.prepareWake(agent);
    let result: Awaited<ReturnType<MessageStore['enqueue']>>;
    try {
      result = await this.store.enqueue({
        agent,
        body,
        priority: options.priority ?? cfg.priority ?? defaults.priority,
        key: options.key ?? null,
        ttlMs: options.ttlMs ?? (ttl !== undefined ? durationMs(ttl) : null),
        sender: options.sender ?? null,
      });
    } catch (err) {
      wake.cancel();
      throw err;
    }
    // A running daemon delivers at once instead of at its next safety poll; the poke goes first (the
    // log line below is a file write). Not waiting for its answer: whether an engine runs is read
    // from its pid file, as everywhere else.
    if (!result.created) wake.cancel();
    const poke = result.created ? wake.fire() : Promise.resolve(null);
    // Never log bodies: they may carry secrets the user pasted.
    this.log.info({ event: 'send', agent, id: result.message.id, priority: result.message.priority, created: result.created, bytes: Buffer.byteLength(body) }, 'message queued');
    const ctx = await this.store.explainContext(result.message.id);
    const remoteRunning = await poke;
    const engineRunning = remoteRunning ?? engineStatus(this.project.paths.root).running;
    const waits = result.message.state === 'queued' && waitsForEngine({ engineRunning, agentPaused: ctx.agent?.paused ?? false, agentState: ctx.agent?.state ?? null });
    return { ...result, ahead: ctx.ahead, engineRunning, waitsForEngine: waits };
  }

  async explain(id: string): Promise<Explanation> {
    const ctx = await this.store.explainContext(id);
    const engineRunning = engineStatus(this.project.paths.root).running;
    const why = explainMessage({
      engineRunning,
      message: ctx.message,
      ahead: ctx.ahead,
      agentPaused: ctx.agent?.paused ?? false,
      agentState: ctx.agent?.state ?? null,
      agentError: ctx.agent?.lastError ?? null,
      now: ctx.now,
    });
    return { id: ctx.message.id, state: ctx.message.state, why, engineRunning };
  }

  async list(options: { agent?: string; states?: MessageState[]; limit?: number }): Promise<Message[]> {
    if (options.agent !== undefined) this.agentConfig(options.agent);
    await this.store.sweep();
    return this.store.list({ agent: options.agent, states: options.states ?? [...pendingStates], limit: options.limit, order: 'delivery' });
  }

  async stats(): Promise<QueueStats> {
    await this.store.sweep();
    return this.store.stats();
  }

  /** `unreadable`: rows a damaged database could not give (the export salvaged the rest). */
  async exportPending(agent?: string): Promise<{ text: string; count: number; messages: ExportedMessage[]; unreadable: number | null }> {
    if (agent !== undefined) this.agentConfig(agent);
    const messages = await this.store.exportPending({ agent });
    const { serializeExport } = await jsonl();
    return { text: serializeExport(messages), count: messages.length, messages, unreadable: this.store.exportUnreadable?.() ?? null };
  }

  /** Without `partial`, any bad line means nothing is imported. */
  async importText(text: string, options: { partial?: boolean } = {}): Promise<ImportResult> {
    const parsed = (await jsonl()).parseImport(text);
    // Check agents against hornets.json here, so one run reports them together with the syntax errors
    // (the store only sees the lines that parsed) and the message can list the agents that do exist.
    const configured = new Set(this.project.config.agents.map((a) => a.name));
    const known = [...configured].join(', ');
    const records = parsed.records.filter((r) => configured.has(r.message.agent));
    const errors = [
      ...parsed.errors,
      ...parsed.records
        .filter((r) => !configured.has(r.message.agent))
        .map((r) => ({ line: r.line, id: r.message.id, message: `unknown agent "${r.message.agent}" (agents in ${this.project.configPath}: ${known})` })),
    ].sort((a, b) => a.line - b.line);
    if (errors.length > 0 && !options.partial) {
      return { imported: 0, skipped: [], rejected: errors };
    }
    const result = await this.store.importMessages(records, options);
    const rejected = [...errors, ...result.rejected].sort((a, b) => a.line - b.line);
    this.log.info({ event: 'import', imported: result.imported, skipped: result.skipped.length, rejected: rejected.length }, 'queue import');
    return { ...result, rejected };
  }
}
