/** Message life cycle (DESIGN.md §3). Pure types and predicates, no I/O. */

export const messageStates = ['queued', 'leased', 'delivered', 'confirmed', 'failed', 'dead', 'expired', 'cancelled'] as const;
export type MessageState = (typeof messageStates)[number];

/** Waiting for a (re)delivery attempt. */
export const waitingStates: readonly MessageState[] = ['queued', 'failed'];
/** Handed out but not yet known to be in the agent's context for good. */
export const inFlightStates: readonly MessageState[] = ['leased', 'delivered'];
/** Everything not finished: what counts against the depth limit and what `export` writes. */
export const pendingStates: readonly MessageState[] = ['queued', 'failed', 'leased', 'delivered'];
export const terminalStates: readonly MessageState[] = ['confirmed', 'dead', 'expired', 'cancelled'];

export function isMessageState(s: string): s is MessageState {
  return (messageStates as readonly string[]).includes(s);
}

export interface Message {
  id: string;
  /** Global enqueue order; FIFO within one priority. */
  seq: number;
  agent: string;
  priority: number;
  body: string;
  sender: string | null;
  /** Idempotency key, unique per agent. */
  key: string | null;
  state: MessageState;
  /** Delivery attempts started (claims). */
  attempts: number;
  maxAttempts: number;
  /** Not deliverable before this time (retry backoff). Epoch ms. */
  availableAt: number;
  expiresAt: number | null;
  leaseToken: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  /** Agent session the message was last delivered to. */
  sessionId: string | null;
  deliveredAt: number | null;
  confirmedAt: number | null;
  /** How many times it was requeued after a session ended before confirming it. */
  redeliveries: number;
  lastError: string | null;
  deadReason: string | null;
  createdAt: number;
  updatedAt: number;
  meta: Record<string, unknown> | null;
}

export interface EnqueueInput {
  agent: string;
  body: string;
  priority?: number;
  key?: string | null;
  ttlMs?: number | null;
  sender?: string | null;
  maxAttempts?: number;
  meta?: Record<string, unknown> | null;
}

/** One message as written by `queue export` and read by `queue import`. */
export interface ExportedMessage {
  id: string;
  agent: string;
  priority: number;
  body: string;
  sender: string | null;
  key: string | null;
  attempts: number;
  maxAttempts: number;
  redeliveries: number;
  createdAt: number;
  expiresAt: number | null;
  meta: Record<string, unknown> | null;
}

export interface QueueEvent {
  id: number;
  ts: number;
  messageId: string | null;
  agent: string | null;
  kind: string;
  fromState: string | null;
  toState: string | null;
  detail: Record<string, unknown> | null;
}

/** The text an agent sees: the id lets it recognise a redelivery. */
export function formatForAgent(m: Pick<Message, 'id' | 'body' | 'redeliveries' | 'sender'>): string {
  const tags = [`msg ${m.id}`];
  if (m.sender) tags.push(`from ${m.sender}`);
  if (m.redeliveries > 0) tags.push('redelivery');
  return `[${tags.join(' | ')}] ${m.body}`;
}
