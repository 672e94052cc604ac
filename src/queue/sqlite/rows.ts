import type { ExportedMessage, Message, MessageState, QueueEvent } from '../../domain/message.js';
import { storedAgentState, type AgentContext, type AgentRecord } from '../../domain/agent.js';
import type { Task, TaskState } from '../../domain/task.js';

export interface MessageRow {
  seq: number;
  id: string;
  agent: string;
  priority: number;
  body: string;
  sender: string | null;
  idem_key: string | null;
  state: string;
  attempts: number;
  max_attempts: number;
  available_at: number;
  expires_at: number | null;
  lease_token: string | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  session_id: string | null;
  delivered_at: number | null;
  confirmed_at: number | null;
  redeliveries: number;
  last_error: string | null;
  dead_reason: string | null;
  meta: string | null;
  created_at: number;
  updated_at: number;
}

export interface AgentRow {
  name: string;
  profile: string;
  state: string;
  pane_id: string | null;
  session_id: string | null;
  generation: number;
  restart_count: number;
  last_restart: number | null;
  last_error: string | null;
  context_preserved: number;
  paused: number;
  max_depth: number | null;
  last_event_at: number | null;
  stop_blocks: number;
  pending: number;
  created_at: number;
  updated_at: number;
}

export interface AgentContextRow {
  agent: string;
  last_briefing: number | null;
  briefing_content: string | null;
  activity_summary: string | null;
  checkpoint_data: string | null;
  created_at: number;
  updated_at: number;
}

export interface EventRow {
  id: number;
  ts: number;
  message_id: string | null;
  agent: string | null;
  kind: string;
  from_state: string | null;
  to_state: string | null;
  detail: string | null;
}

function parseJsonObject(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function toMessage(r: MessageRow): Message {
  return {
    id: r.id,
    seq: r.seq,
    agent: r.agent,
    priority: r.priority,
    body: r.body,
    sender: r.sender,
    key: r.idem_key,
    state: r.state as MessageState,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    availableAt: r.available_at,
    expiresAt: r.expires_at,
    leaseToken: r.lease_token,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at,
    sessionId: r.session_id,
    deliveredAt: r.delivered_at,
    confirmedAt: r.confirmed_at,
    redeliveries: r.redeliveries,
    lastError: r.last_error,
    deadReason: r.dead_reason,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    meta: parseJsonObject(r.meta),
  };
}

export function toExported(r: MessageRow): ExportedMessage {
  return {
    id: r.id,
    agent: r.agent,
    priority: r.priority,
    body: r.body,
    sender: r.sender,
    key: r.idem_key,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    redeliveries: r.redeliveries,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    meta: parseJsonObject(r.meta),
  };
}

export function toAgent(r: AgentRow): AgentRecord {
  return {
    name: r.name,
    profile: r.profile,
    state: storedAgentState(r.state),
    paneId: r.pane_id,
    sessionId: r.session_id,
    generation: r.generation,
    restartCount: r.restart_count,
    lastRestart: r.last_restart,
    lastError: r.last_error,
    contextPreserved: r.context_preserved !== 0,
    paused: r.paused !== 0,
    maxDepth: r.max_depth,
    lastEventAt: r.last_event_at,
    stopBlocks: r.stop_blocks,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function toAgentContext(r: AgentContextRow): AgentContext {
  return {
    agent: r.agent,
    lastBriefing: r.last_briefing,
    briefingContent: r.briefing_content,
    activitySummary: r.activity_summary,
    checkpointData: parseJsonObject(r.checkpoint_data),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function toEvent(r: EventRow): QueueEvent {
  return {
    id: r.id,
    ts: r.ts,
    messageId: r.message_id,
    agent: r.agent,
    kind: r.kind,
    fromState: r.from_state,
    toState: r.to_state,
    detail: parseJsonObject(r.detail),
  };
}

export interface TaskRow {
  task_id: string;
  agent: string;
  description: string;
  priority: number;
  timeout_ms: number;
  max_retries: number;
  sender: string | null;
  state: string;
  attempts: number;
  message_id: string | null;
  started_at: number | null;
  deadline_at: number | null;
  retry_at: number | null;
  result: string | null;
  last_error: string | null;
  source: string | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

export function toTask(r: TaskRow): Task {
  return {
    taskId: r.task_id,
    agent: r.agent,
    description: r.description,
    priority: r.priority,
    timeoutMs: r.timeout_ms,
    maxRetries: r.max_retries,
    from: r.sender,
    state: r.state as TaskState,
    attempts: r.attempts,
    messageId: r.message_id,
    startedAt: r.started_at,
    deadlineAt: r.deadline_at,
    retryAt: r.retry_at,
    result: r.result,
    lastError: r.last_error,
    source: r.source,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    completedAt: r.completed_at,
  };
}
