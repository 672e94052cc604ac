/**
 * One handler per hook event (named after Claude Code's), behind one function that any transport
 * (command hook, daemon socket) calls; which CLI event runs which handler, and how the reply is
 * shaped, is the CLI's protocol table (protocols.ts). Handlers never throw to the transport: the
 * caller turns any error into "exit 0, no output" so a hook can never break the agent it runs in.
 */
import type { Message } from '../domain/message.js';
import type { MessageStore } from '../queue/store.js';
import type { AgentPatch, AgentRecord } from '../domain/agent.js';
import type { LifecycleEvent } from '../domain/agent-lifecycle.js';
import {
  briefingText,
  deliveryText,
  readActivity,
  rebriefText,
  summariseTool,
  HOOK_CONTEXT_MAX_CHARS,
  REBRIEF_SENDER,
  STOP_REASON_MAX_CHARS,
  type ActivityEntry,
  type BriefingInput,
} from './compose.js';
import { isLimitFailure, parseLimitReset } from '../domain/usage-limit.js';
import { blockReply, claudeCodeProtocol, contextReply, handlerFor, type HookEvent, type HookProtocol } from './protocols.js';
import { compressionFingerprint } from './compression-marker.js';
import { namedPriorities } from '../domain/priority.js';

export { hookEvents, isHookEvent, type HookEvent } from './protocols.js';

/** Claude Code ends a turn after 8 consecutive Stop blocks; stay below so we never hit its cap. */
export const MAX_STOP_BLOCKS = 7;
/**
 * Covers claim -> the transport's ack after writing the reply: milliseconds normally. A transport
 * killed in between leaves the lease to lapse, so this is also how long such a message waits.
 */
const LEASE_MS = 10_000;
const MAX_ACTIVITY = 40;
/** The nudge the idle monitor types; UserPromptSubmit recognises it. */
export const NUDGE_RE = /\[hornets:([0-9a-z]{6,32})\]/;

export interface HookReply {
  stdout: string;
  /** What happened, for logs and metrics. */
  outcome: string;
  delivered: string[];
  /**
   * With `deferAck`: the lease the transport must ack once the reply is written (null when nothing
   * was handed over). `delivered` then lists what is handed over, not yet acked.
   */
  ackToken?: string | null;
}

export interface HookDeps {
  store: MessageStore;
  agent: string;
  /**
   * HORNETS_GENERATION of the agent process, vouched for by its credential (transports refuse a
   * hook without one); events from an older generation are ignored.
   */
  generation: number;
  now: () => number;
  /** Briefing facts from hornets.json; loaded lazily because only session starts need them. */
  briefing: () => BriefingInput;
  git: (cwd: string) => Promise<{ branch: string | null; status: string | null }>;
  /**
   * Leave the ack to the transport, which does it after the reply is written (`ackToken`). A
   * transport killed in between then leaves a lease that lapses and the message is retried, where an
   * ack before the write would leave it `delivered` and a later event would confirm a message the
   * agent never saw.
   */
  deferAck?: boolean;
  /** The CLI the hook runs in (its events and reply shapes); Claude Code when not given. */
  protocol?: HookProtocol;
}

type Payload = Record<string, unknown>;

/**
 * The last compression seen in a CLI that does not announce one (Gemini: compression-marker.ts),
 * kept in the agent's checkpoint data so that each is rebriefed once.
 */
interface CompressionSeen {
  fingerprint: string;
  session: string | null;
  at: number;
  /** The queued rebrief. */
  rebrief: string;
}

/**
 * A rebrief of a SessionStart whose context the CLI may drop (protocol `deferredSessionStart`),
 * kept in the agent's checkpoint data until the session's next UserPromptSubmit hands it over.
 */
interface PendingRebrief {
  session: string | null;
  at: number;
  text: string;
}

function pendingRebrief(checkpoint: Record<string, unknown> | null | undefined): PendingRebrief | null {
  const r = checkpoint?.pendingRebrief as Partial<PendingRebrief> | null | undefined;
  return typeof r?.text === 'string' && typeof r.at === 'number' ? { session: typeof r.session === 'string' ? r.session : null, at: r.at, text: r.text } : null;
}

function lastCompression(checkpoint: Record<string, unknown> | null | undefined): string | null {
  const c = checkpoint?.compression as Partial<CompressionSeen> | undefined;
  return typeof c?.fingerprint === 'string' ? c.fingerprint : null;
}

const none = (outcome: string): HookReply => ({ stdout: '', outcome, delivered: [] });

function str(p: Payload, k: string): string | null {
  return typeof p[k] === 'string' ? (p[k] as string) : null;
}

export class HookHandler {
  private readonly protocol: HookProtocol;

  constructor(private readonly d: HookDeps) {
    this.protocol = d.protocol ?? claudeCodeProtocol;
  }

  /** `cliEvent`: the event as the CLI names it; its protocol says which handler runs. */
  async handle(cliEvent: string, payload: unknown): Promise<HookReply> {
    const event = handlerFor(this.protocol, cliEvent);
    if (event === null) return none(`ignored: unknown event ${cliEvent}`);
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return none('ignored: payload is not an object');
    const p = payload as Payload;
    const record = await this.d.store.getAgent(this.d.agent);
    if (!record) return none(`ignored: unknown agent ${this.d.agent}`);
    if (this.d.generation < record.generation) {
      return none(`ignored: stale generation ${this.d.generation} < ${record.generation}`);
    }
    const session = str(p, 'session_id');
    // The session id ends up in the resume argv of a restart: only plain ids are accepted.
    if (session !== null && !/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(session)) return none('ignored: malformed session_id');
    // A nested CLI started inside the agent's worktree inherits its environment, credential and
    // all: its hooks carry its own session id, and must not drain or confirm its parent's queue.
    if (session !== null && (await this.d.store.pinSession(this.d.agent, { generation: this.d.generation, session, event })) === 'refused') {
      return none(`ignored: session ${session} is not the one generation ${this.d.generation} started (a nested CLI?)`);
    }
    const now = this.d.now();
    // BeforeModel runs before every model call, before the request that carries what was handed
    // over has gone out: it watches for a compression only, and neither confirms nor logs an event.
    const watcher = event === 'BeforeModel';
    // Any other event of a session proves what it was handed earlier reached its context.
    if (session && !watcher && event !== 'SessionEnd' && event !== 'StopFailure' && !(event === 'SessionStart' && str(p, 'source') === 'startup')) {
      await this.d.store.confirm(this.d.agent, { sessionId: session });
    }
    if (!watcher) {
      await this.d.store.recordEvent({
        agent: this.d.agent,
        kind: `hook:${event}`,
        detail: { session, source: str(p, 'source'), tool: str(p, 'tool_name'), notification: str(p, 'notification_type') },
      });
    }
    this.pendingAck = null;
    const reply = await this.route(event, p, record, session, now);
    return this.d.deferAck ? { ...reply, ackToken: this.pendingAck } : reply;
  }

  private route(event: HookEvent, p: Payload, record: AgentRecord, session: string | null, now: number): Promise<HookReply> {
    switch (event) {
      case 'SessionStart':
        return this.sessionStart(p, session, now);
      case 'UserPromptSubmit':
        return this.userPromptSubmit(p, session, now);
      case 'PostToolUse':
        return this.postToolUse(p, session, now);
      case 'Stop':
        return this.stop(p, record, session, now);
      case 'PreCompact':
        return this.preCompact(p, record, session, now);
      case 'Notification':
        return this.notification(p, session, now);
      case 'SessionEnd':
        return this.sessionEnd(p, session, now);
      case 'StopFailure':
        return this.stopFailure(p, session, now);
      case 'BeforeModel':
        return this.beforeModel(p, session, now);
      case 'PermissionRequest':
      case 'PreToolUse':
        return this.asking(event, p, session, now);
    }
  }

  /** Every hook moves the agent through the one life-cycle transition, with its bookkeeping. */
  private async touch(session: string | null, now: number, hook: Omit<Extract<LifecycleEvent, { type: 'hook' }>, 'type'>, extra: Omit<AgentPatch, 'lastError'> = {}): Promise<void> {
    await this.d.store.transitionAgent(this.d.agent, { type: 'hook', ...hook }, { lastEventAt: now, ...(session ? { sessionId: session } : {}), ...extra });
  }

  /**
   * Claims what fits in `maxChars` of delivery text, in delivery order (never skipping ahead to a
   * smaller message), and releases the rest unspent. A first message too long on its own still goes
   * alone when `alone` allows: Claude Code then shows the model a preview and the file with the
   * whole text, which beats never delivering it.
   */
  private async claimBatch(session: string | null, owner: string, maxChars: number, alone = true): Promise<Message[]> {
    const claimed = await this.d.store.claim(this.d.agent, { owner, leaseMs: LEASE_MS, limit: 20, sessionId: session });
    if (claimed.length === 0) return [];
    const keep: Message[] = [];
    for (const m of claimed) {
      if (deliveryText(this.d.agent, [...keep, m]).length <= maxChars) keep.push(m);
      else {
        if (keep.length === 0 && alone) keep.push(m);
        break;
      }
    }
    const spill = claimed.slice(keep.length).map((m) => m.id);
    if (spill.length > 0) await this.d.store.release({ leaseToken: claimed[0]!.leaseToken!, ids: spill });
    return keep;
  }

  /** The lease of what this call hands over, for a transport that acks after writing (`deferAck`). */
  private pendingAck: string | null = null;

  /**
   * The hand-over: the text is composed, then the lease acked — by the transport after it wrote the
   * reply when `deferAck` is set (the reply's `ackToken`), else here. Acked = `delivered`: a later
   * event of the session then confirms it. A transport killed before its ack leaves the lease to
   * lapse, and the message is retried.
   */
  private async deliver(messages: Message[], session: string | null): Promise<string[]> {
    if (messages.length === 0) return [];
    if (this.d.deferAck) this.pendingAck = messages[0]!.leaseToken!;
    else await this.d.store.ack({ leaseToken: messages[0]!.leaseToken!, ids: messages.map((m) => m.id), sessionId: session });
    return messages.map((m) => m.id);
  }

  private async sessionStart(p: Payload, session: string | null, now: number): Promise<HookReply> {
    const source = (str(p, 'source') ?? 'startup') as 'startup' | 'resume' | 'compact' | 'clear';
    if (source === 'startup') {
      // A fresh session cannot hold what an earlier one was handed: give those messages again.
      await this.d.store.requeueUnconfirmed(this.d.agent, { reason: 'a new session started before they were confirmed' });
    }
    await this.touch(session, now, { event: 'SessionStart', source }, { stopBlocks: 0 });
    let text: string;
    if (source === 'startup') text = briefingText(this.d.briefing());
    else text = await this.rebrief(p, source, now);
    if (source !== 'startup' && this.protocol.deferredSessionStart?.includes(source)) {
      // Nothing reaches the model before the next turn, whose UserPromptSubmit hands over both the
      // rebrief and the waiting messages, into that very request: the same moment, without the race.
      await this.setPendingRebrief({ session, at: now, text });
      return { stdout: '', outcome: `rebrief:${source}`, delivered: [] };
    }
    // The briefing and the messages share one stdout under Claude Code's cap. What does not fit
    // stays queued for UserPromptSubmit, which runs as soon as the first prompt arrives.
    const room = HOOK_CONTEXT_MAX_CHARS - text.length - 2;
    const messages = await this.claimBatch(session, `hook:SessionStart:${session ?? '?'}`, room, false);
    if (messages.length > 0) text += `\n\n${deliveryText(this.d.agent, messages)}`;
    const delivered = await this.deliver(messages, session);
    return { stdout: contextReply(this.protocol, 'SessionStart', text), outcome: source === 'startup' ? 'briefing' : `rebrief:${source}`, delivered };
  }

  /** The rebrief text (what Claude Code gets after SessionStart `compact`), recorded as the last briefing. */
  private async rebrief(p: Payload, reason: 'resume' | 'compact' | 'clear', now: number): Promise<string> {
    const ctx = await this.d.store.getAgentContext(this.d.agent);
    const cwd = str(p, 'cwd');
    const git = cwd ? await this.d.git(cwd).catch(() => ({ branch: null, status: null })) : { branch: null, status: null };
    // An earlier rebrief is no task of the agent's.
    const recent = (await this.d.store.list({ agent: this.d.agent, states: ['delivered', 'confirmed'], order: 'recent', limit: 6 })).filter((m) => m.sender !== REBRIEF_SENDER).slice(0, 3);
    const text = rebriefText({
      ...this.d.briefing(),
      reason,
      activity: readActivity(ctx?.activitySummary ?? null),
      lastAssistantMessage: typeof ctx?.checkpointData?.lastAssistantMessage === 'string' ? ctx.checkpointData.lastAssistantMessage : null,
      currentTask: recent.reverse(),
      gitBranch: git.branch,
      gitStatus: git.status,
    });
    await this.d.store.saveAgentContext(this.d.agent, { lastBriefing: now, briefingContent: text });
    await this.d.store.updateAgent(this.d.agent, { contextPreserved: true });
    return text;
  }

  private async userPromptSubmit(p: Payload, session: string | null, now: number): Promise<HookReply> {
    await this.touch(session, now, { event: 'UserPromptSubmit' }, { stopBlocks: 0 });
    const nudge = NUDGE_RE.exec(str(p, 'prompt') ?? '');
    if (nudge) await this.d.store.recordEvent({ agent: this.d.agent, kind: 'nudge_seen', detail: { nonce: nudge[1], session } });
    const rebrief = await this.takePendingRebrief(session);
    if (rebrief !== null) {
      // As at SessionStart: the rebrief first, then what fits beside it; the rest waits.
      const messages = await this.claimBatch(session, `hook:UserPromptSubmit:${session ?? '?'}`, HOOK_CONTEXT_MAX_CHARS - rebrief.length - 2, false);
      const text = messages.length > 0 ? `${rebrief}\n\n${deliveryText(this.d.agent, messages)}` : rebrief;
      const delivered = await this.deliver(messages, session);
      return { stdout: contextReply(this.protocol, 'UserPromptSubmit', text), outcome: messages.length > 0 ? 'rebrief: delivered' : 'rebrief', delivered };
    }
    const messages = await this.claimBatch(session, `hook:UserPromptSubmit:${session ?? '?'}`, HOOK_CONTEXT_MAX_CHARS);
    if (messages.length === 0) return none(nudge ? 'nudge: queue empty' : 'no messages');
    const delivered = await this.deliver(messages, session);
    return { stdout: contextReply(this.protocol, 'UserPromptSubmit', deliveryText(this.d.agent, messages)), outcome: nudge ? 'nudge: delivered' : 'delivered', delivered };
  }

  private async setPendingRebrief(pending: PendingRebrief | null): Promise<void> {
    const ctx = await this.d.store.getAgentContext(this.d.agent);
    await this.d.store.saveAgentContext(this.d.agent, { checkpointData: { ...(ctx?.checkpointData ?? {}), pendingRebrief: pending } });
  }

  /**
   * The pending rebrief of this session, cleared as it is taken: one UserPromptSubmit per turn, and
   * a turn's first hook is its UserPromptSubmit, so no other hook of the session races for it. A
   * rebrief pending for another session is dropped: that session's history is not this one's.
   */
  private async takePendingRebrief(session: string | null): Promise<string | null> {
    if (!this.protocol.deferredSessionStart) return null;
    const pending = pendingRebrief((await this.d.store.getAgentContext(this.d.agent))?.checkpointData);
    if (pending === null) return null;
    await this.setPendingRebrief(null);
    return pending.session === session ? pending.text : null;
  }

  private async recordActivity(entry: ActivityEntry): Promise<void> {
    const ctx = await this.d.store.getAgentContext(this.d.agent);
    const list = readActivity(ctx?.activitySummary ?? null);
    list.push(entry);
    await this.d.store.saveAgentContext(this.d.agent, { activitySummary: JSON.stringify(list.slice(-MAX_ACTIVITY)) });
  }

  private async postToolUse(p: Payload, session: string | null, now: number): Promise<HookReply> {
    await this.touch(session, now, { event: 'PostToolUse' });
    const tool = str(p, 'tool_name') ?? 'tool';
    await this.recordActivity({ ts: now, tool, detail: summariseTool(tool, p.tool_input) });
    const messages = await this.claimBatch(session, `hook:PostToolUse:${session ?? '?'}`, HOOK_CONTEXT_MAX_CHARS);
    if (messages.length === 0) return none('no messages');
    const delivered = await this.deliver(messages, session);
    return { stdout: contextReply(this.protocol, 'PostToolUse', deliveryText(this.d.agent, messages)), outcome: 'delivered', delivered };
  }

  /**
   * Gemini's BeforeModel: a history that opens with a compression summary not seen before means a
   * compression happened since the last model call. The rebrief (what Claude Code gets after
   * SessionStart `compact`) is then queued in the rebrief band, as the operator's "rebrief now" is:
   * the next context hook (AfterTool, AfterAgent, BeforeAgent; a nudge if the agent idles) hands it
   * over first, under a lease, so exactly once even when Gemini runs tool hooks side by side, and
   * into the history Gemini keeps (a change to this request would last for this one call only).
   */
  private async beforeModel(p: Payload, session: string | null, now: number): Promise<HookReply> {
    await this.touch(session, now, { event: 'BeforeModel' });
    const fingerprint = compressionFingerprint(p);
    if (fingerprint === null) return none('no compression');
    const ctx = await this.d.store.getAgentContext(this.d.agent);
    if (lastCompression(ctx?.checkpointData) === fingerprint) return none('no new compression');
    const text = await this.rebrief(p, 'compact', now);
    const { message } = await this.d.store.enqueue({ agent: this.d.agent, body: text, priority: namedPriorities.rebrief, sender: REBRIEF_SENDER });
    const compression: CompressionSeen = { fingerprint, session, at: now, rebrief: message.id };
    const latest = await this.d.store.getAgentContext(this.d.agent);
    await this.d.store.saveAgentContext(this.d.agent, { checkpointData: { ...(latest?.checkpointData ?? {}), compression } });
    await this.d.store.recordEvent({ agent: this.d.agent, kind: 'compression_seen', detail: { session, fingerprint, rebrief: message.id } });
    return none('compression seen: rebrief queued');
  }

  private async stop(p: Payload, record: AgentRecord, session: string | null, now: number): Promise<HookReply> {
    const active = p.stop_hook_active === true;
    const blocks = active ? record.stopBlocks : 0;
    const last = str(p, this.protocol.lastReplyField ?? 'last_assistant_message');
    if (last !== null) {
      const ctx = await this.d.store.getAgentContext(this.d.agent);
      await this.d.store.saveAgentContext(this.d.agent, { checkpointData: { ...(ctx?.checkpointData ?? {}), lastAssistantMessage: last.slice(0, 20_000), lastStopAt: now } });
    }
    if (blocks < MAX_STOP_BLOCKS) {
      const messages = await this.claimBatch(session, `hook:Stop:${session ?? '?'}`, STOP_REASON_MAX_CHARS);
      if (messages.length > 0) {
        const delivered = await this.deliver(messages, session);
        await this.touch(session, now, { event: 'Stop', blocked: true }, { stopBlocks: blocks + 1 });
        return { stdout: blockReply(this.protocol, deliveryText(this.d.agent, messages)), outcome: `block ${blocks + 1}`, delivered };
      }
    }
    await this.touch(session, now, { event: 'Stop' }, { stopBlocks: 0 });
    return none(blocks >= MAX_STOP_BLOCKS ? 'idle: block cap reached, rest stays queued' : 'idle');
  }

  private async preCompact(p: Payload, record: AgentRecord, session: string | null, now: number): Promise<HookReply> {
    await this.touch(session, now, { event: 'PreCompact' });
    const ctx = await this.d.store.getAgentContext(this.d.agent);
    const cwd = str(p, 'cwd');
    const git = cwd ? await this.d.git(cwd).catch(() => ({ branch: null, status: null })) : { branch: null, status: null };
    const inFlight = await this.d.store.list({ agent: this.d.agent, states: ['delivered', 'leased'], limit: 20 });
    await this.d.store.saveAgentContext(this.d.agent, {
      checkpointData: {
        ...(ctx?.checkpointData ?? {}),
        snapshotAt: now,
        trigger: str(p, 'trigger'),
        session,
        generation: record.generation,
        inFlight: inFlight.map((m) => m.id),
        gitBranch: git.branch,
        gitStatus: git.status,
      },
    });
    await this.d.store.updateAgent(this.d.agent, { contextPreserved: true });
    return none('snapshot');
  }

  /** A usage or rate limit: the agent waits for the reset the CLI states (issue 17), no crash. */
  private async limited(text: string, session: string | null, now: number): Promise<void> {
    await this.d.store.transitionAgent(
      this.d.agent,
      { type: 'limited', until: parseLimitReset(text, now), reason: text.slice(0, 500) },
      { lastEventAt: now, ...(session ? { sessionId: session } : {}), stopBlocks: 0 },
    );
  }

  private async notification(p: Payload, session: string | null, now: number): Promise<HookReply> {
    const type = str(p, 'notification_type');
    const message = str(p, 'message') ?? '';
    // Gemini CLI names a permission prompt ToolPermission; older CLIs say it in the message only.
    if (type === 'permission_prompt' || type === 'ToolPermission' || /permission/i.test(message)) await this.touch(session, now, { event: 'Notification', notification: 'permission_prompt' });
    else if (isLimitFailure(null, message)) await this.limited(message, session, now);
    else if (/rate.?limit|overloaded|429|529|api error/i.test(message)) await this.touch(session, now, { event: 'Notification', notification: type, error: message.slice(0, 500) });
    else await this.touch(session, now, { event: 'Notification', notification: type });
    return none(`notification:${type ?? 'unknown'}`);
  }

  /** A permission dialog or a question to the user is about to show: needs-input (issue 17). No reply: the CLI asks as usual. */
  private async asking(event: 'PermissionRequest' | 'PreToolUse', p: Payload, session: string | null, now: number): Promise<HookReply> {
    const tool = str(p, 'tool_name');
    await this.touch(session, now, { event, tool });
    return none(`${event}:${tool ?? 'unknown'}`);
  }

  private async sessionEnd(p: Payload, session: string | null, now: number): Promise<HookReply> {
    const reason = str(p, 'reason') ?? 'other';
    const requeued = await this.d.store.requeueUnconfirmed(this.d.agent, { sessionId: session, reason: `session ended (${reason}) before confirming` });
    await this.touch(null, now, { event: 'SessionEnd', source: reason }, { stopBlocks: 0 });
    return none(`session end: ${requeued} requeued`);
  }

  private async stopFailure(p: Payload, session: string | null, now: number): Promise<HookReply> {
    const error = str(p, 'error') ?? str(p, 'message') ?? JSON.stringify(p.error ?? 'unknown API error').slice(0, 500);
    // The failed turn may not have taken in what it was handed: give it again.
    const requeued = await this.d.store.requeueUnconfirmed(this.d.agent, { sessionId: session, reason: `turn failed: ${error}` });
    // Claude Code states the limit and its reset in the turn's last message ("You've hit your
    // session limit · resets 3pm (Europe/Berlin)") or in error_details; `error` is only its kind.
    const words = [str(p, 'error_details'), str(p, 'last_assistant_message')].filter((w): w is string => w !== null).join(' · ');
    if (isLimitFailure(str(p, 'error'), words)) {
      await this.limited(words || error, session, now);
      return none(`limited: ${requeued} requeued`);
    }
    await this.touch(session, now, { event: 'StopFailure', error }, { stopBlocks: 0 });
    return none(`stop failure: ${requeued} requeued`);
  }
}
