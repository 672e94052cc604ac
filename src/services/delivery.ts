/**
 * Push delivery of queued messages into an agent's pane (`send --now`, and the building block the
 * idle monitor uses). A refusal (busy, permission prompt) releases the lease without spending an
 * attempt; a failed push counts as a failed attempt and backs off.
 */
import { formatForAgent, type Message } from '../domain/message.js';
import { durationMs } from '../config/schema.js';
import { untypeableStates } from '../domain/agent-lifecycle.js';
import type { Logger } from '../log.js';
import type { MessageStore } from '../queue/store.js';
import type { AgentManager } from './agents.js';
import { PushFailed, PushRefused, pushText, type PushResult } from './push.js';

export interface PushDeliveryResult {
  delivered: { id: string; ms: number; enterPresses: number }[];
  /** `kind` and `line`: what the screen showed when it was the reason (push.ts PushRefused). */
  refused: { id: string; reason: string; kind?: PushRefused['reason']; line?: string | null }[];
  failed: { id: string; error: string }[];
}

export class DeliveryService {
  constructor(
    private readonly agents: AgentManager,
    private readonly store: MessageStore,
    private readonly log: Logger,
  ) {}

  /**
   * Pushes waiting messages of one agent in delivery order (never skipping ahead of older or
   * higher-priority ones), stopping at the first refusal, after `until` has gone, or at `limit`.
   */
  async pushPending(agentName: string, options: { limit?: number; until?: string; leaseMs?: number } = {}): Promise<PushDeliveryResult> {
    const agent = this.agents.agentConfig(agentName);
    const profile = this.agents.profile(agent);
    const pane = await this.agents.paneOf(agentName);
    const record = await this.store.getAgent(agentName);
    const result: PushDeliveryResult = { delivered: [], refused: [], failed: [] };
    if (record && untypeableStates.has(record.state) && record.state !== 'starting') {
      result.refused.push({ id: '*', reason: `${agentName} is ${record.state}` });
      return result;
    }
    const limit = options.limit ?? 50;
    for (let i = 0; i < limit; i++) {
      // queue.leaseTimeout bounds how long a push may hold a message before it counts as a failed attempt.
      const leaseMs = options.leaseMs ?? durationMs(this.agents.project.config.queue.leaseTimeout);
      const [message] = await this.store.claim(agentName, { owner: `push:${process.pid}`, leaseMs, limit: 1 });
      if (!message) break;
      const outcome = await this.pushOne(pane.paneId, message, profile.patterns, profile.messageFormat);
      if ('result' in outcome) {
        await this.store.ack({ leaseToken: message.leaseToken!, sessionId: record?.sessionId ?? null });
        // Push-only agents never report back through hooks; the pane taking the Enter is all we get.
        if (profile.hooks.kind === 'none' || profile.delivery === 'push') await this.store.confirm(agentName, { ids: [message.id] });
        result.delivered.push({ id: message.id, ms: outcome.result.ms, enterPresses: outcome.result.enterPresses });
        if (message.id === options.until) break;
      } else if ('refused' in outcome && outcome.refused !== undefined) {
        await this.store.release({ leaseToken: message.leaseToken! });
        result.refused.push({ id: message.id, reason: outcome.refused.message, kind: outcome.refused.reason, line: outcome.refused.line });
        break;
      } else if ('error' in outcome) {
        await this.store.fail({ leaseToken: message.leaseToken!, error: outcome.error });
        result.failed.push({ id: message.id, error: outcome.error });
        break;
      }
    }
    return result;
  }

  private async pushOne(
    paneId: string,
    message: Message,
    patterns: Parameters<typeof pushText>[3]['patterns'],
    format: 'tagged' | 'plain',
  ): Promise<{ result: PushResult } | { refused: PushRefused } | { error: string; refused?: undefined }> {
    try {
      const result = await pushText(this.agents.tmux, paneId, format === 'plain' ? message.body : formatForAgent(message), { patterns, typed: this.agents.typed });
      this.log.info({ event: 'pushed', agent: message.agent, id: message.id, ms: result.ms, enterPresses: result.enterPresses, neutralised: result.neutralised }, 'message typed into pane');
      return { result };
    } catch (err) {
      if (err instanceof PushRefused) return { refused: err };
      const error = err instanceof PushFailed || err instanceof Error ? err.message : String(err);
      this.log.warn({ event: 'push_failed', agent: message.agent, id: message.id, error }, 'push failed');
      return { error };
    }
  }
}
