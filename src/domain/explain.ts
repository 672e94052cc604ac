/** One line saying why a message is where it is. Pure: the store supplies the facts, the clock is passed in. */
import type { Message } from './message.js';
import { formatDuration } from './duration.js';
import { isHoldNote } from './screen-hold.js';

export interface ExplainFacts {
  message: Message;
  /** Waiting messages of the same agent that go first. */
  ahead: number;
  agentPaused: boolean;
  agentState: string | null;
  /** The agent's last error: for a stuck agent, why delivery is wedged; a hold note (screen-hold.ts) names a long hold. */
  agentError?: string | null;
  /** Whether an engine (daemon) runs; undefined when the caller did not look. */
  engineRunning?: boolean;
  now: number;
}

/**
 * Without an engine nothing types into an idle agent's pane: its hooks only fire on its next turn.
 * One sentence for `send`, `queue why`, `status` and `daemon status`.
 */
export const NO_ENGINE_TEXT = 'no engine is running: messages to idle agents wait until it runs; start it with `hornets-tui daemon start`';

/**
 * Whether the message waits only for want of an engine: its agent sits idle (a busy one takes it
 * from its own hooks at its next tool call or turn end) and nothing else holds it back.
 */
export function waitsForEngine(f: Pick<ExplainFacts, 'engineRunning' | 'agentPaused' | 'agentState'>): boolean {
  return f.engineRunning === false && !f.agentPaused && f.agentState === 'idle';
}

/** The no-engine sentence for a message still waiting to be handed over, else ''. */
function engineNote(f: ExplainFacts): string {
  return waitsForEngine(f) ? `; ${NO_ENGINE_TEXT}` : '';
}

function at(ts: number, now: number): string {
  const iso = new Date(ts)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  const delta = ts - now;
  if (Math.abs(delta) < 1000) return `${iso} (now)`;
  return delta > 0 ? `${iso} (in ${formatDuration(delta)})` : `${iso} (${formatDuration(-delta)} ago)`;
}

/**
 * Free text from outside (error texts, reasons, session ids) made one inert line: the explanation
 * goes to terminals, and a control sequence in a reason must not drive them.
 */
function inert(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?/g, '').replace(/[\x00-\x1f\x7f-\x9f]+/g, ' ');
}

function attempts(m: Message): string {
  return `attempt ${m.attempts}/${m.maxAttempts}`;
}

export function explainMessage(f: ExplainFacts): string {
  const { message: m, now } = f;
  const who = m.agent;
  const ttl = m.expiresAt !== null ? `; expires ${at(m.expiresAt, now)}` : '';
  const redelivery = m.redeliveries > 0 ? ` (redelivery #${m.redeliveries})` : '';
  switch (m.state) {
    case 'queued': {
      const blockers: string[] = [];
      if (f.agentPaused) blockers.push(`${who} is paused, so nothing is delivered until it is resumed`);
      else if (m.availableAt > now) blockers.push(`held back until ${at(m.availableAt, now)}`);
      const position = f.ahead === 0 ? 'next in line' : `${f.ahead} message${f.ahead === 1 ? '' : 's'} ahead of it`;
      const state =
        f.agentState === 'stuck'
          ? `; ${who} is stuck (${inert(f.agentError ?? 'nudges refused or unanswered')}): it waits until ${who} takes a prompt again; attach to look, \`hornets-tui reset ${who}\` tries at once`
          : isHoldNote(f.agentError)
            ? `; ${inert(f.agentError!)}`
            : f.agentState && f.agentState !== 'unknown'
              ? `; ${who} is ${f.agentState}`
              : '';
      return `queued for ${who} at priority ${m.priority}${redelivery}, ${position}${blockers.length ? `; ${blockers.join('; ')}` : ''}${state}${ttl}${engineNote(f)}`;
    }
    case 'leased':
      return `being handed to ${who}: leased by ${inert(m.leaseOwner ?? 'unknown')} until ${m.leaseExpiresAt !== null ? at(m.leaseExpiresAt, now) : '?'}, ${attempts(m)}; if not acknowledged by then it counts as a failed attempt`;
    case 'delivered':
      return `delivered to ${who}${m.sessionId ? ` (session ${inert(m.sessionId)})` : ''} at ${m.deliveredAt !== null ? at(m.deliveredAt, now) : '?'}; waiting for the agent's next event to confirm it is in context (requeued if the session ends first)`;
    case 'confirmed':
      return `done: confirmed by ${who}${m.sessionId ? ` (session ${inert(m.sessionId)})` : ''} at ${m.confirmedAt !== null ? at(m.confirmedAt, now) : '?'}`;
    case 'failed':
      return `${attempts(m)} failed (${inert(m.lastError ?? 'no error recorded')}); ${f.agentPaused ? `${who} is paused` : `retrying ${m.availableAt > now ? `at ${at(m.availableAt, now)}` : 'at the next delivery'}`}${ttl}${engineNote(f)}`;
    case 'dead':
      return `dead-lettered at ${at(m.updatedAt, now)}: ${inert(m.deadReason ?? m.lastError ?? 'no reason recorded')}; \`queue retry ${m.id}\` sends it again`;
    case 'expired':
      return `expired at ${m.expiresAt !== null ? at(m.expiresAt, now) : at(m.updatedAt, now)} before ${who} took it (TTL ${m.expiresAt !== null ? formatDuration(m.expiresAt - m.createdAt) : '?'}); \`queue retry ${m.id}\` sends it again`;
    case 'cancelled':
      return `cancelled at ${at(m.updatedAt, now)}${m.lastError ? `: ${inert(m.lastError)}` : ''}`;
  }
}
