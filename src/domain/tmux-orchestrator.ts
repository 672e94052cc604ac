/**
 * Tmux-Orchestrator's queue (seeds 001/002; dancegit/Tmux-Orchestrator `migrate_queue_db.py`,
 * `claude_hooks/enqueue_message.py`, `check_queue_enhanced.py`) and the pure plans that move it into
 * hornets and back. Its priority is 0–100, higher first, FIFO by `sequence_number` — the same
 * order as hornets' (priority, seq); see priorityFromTo for the scale. Its status is `pending`
 * (waiting), `pulled` (handed to the agent's hook, not known to be delivered) or `delivered`.
 */
import type { AgentContextPatch, AgentPatch, AgentRecord } from './agent.js';
import type { ExportedMessage, Message } from './message.js';
import { PRIORITY_MAX, PRIORITY_MIN } from './priority.js';

export interface ToMessage {
  id: number;
  /** `session:window` (older databases: the session alone, in `agent_session`). */
  agentId: string;
  message: string;
  priority: number;
  sequence: number;
  dependencyId: number | null;
  project: string | null;
  status: string;
  enqueuedAt: string | null;
  pulledAt: string | null;
  deliveredAt: string | null;
}

export interface ToAgent {
  agentId: string;
  project: string | null;
  status: string | null;
  lastHeartbeat: string | null;
  /** Seed 002's columns; null where the database predates them. */
  restartCount: number | null;
  lastRestart: string | null;
  lastError: string | null;
  contextPreserved: string | null;
}

export interface ToContext {
  agentId: string;
  lastBriefing: string | null;
  briefingContent: string | null;
  activitySummary: string | null;
  checkpointData: string | null;
}

export interface ToDatabase {
  path: string;
  /** Which column names the agent: `agent_id` (current) or `agent_session` (before the rename). */
  agentColumn: 'agent_id' | 'agent_session';
  /** Whether the agents table has seed 002's restart columns. */
  restartColumns: boolean;
  messages: ToMessage[];
  agents: ToAgent[];
  contexts: ToContext[];
}

/** SQLite's CURRENT_TIMESTAMP text (`YYYY-MM-DD HH:MM:SS`, UTC) or ISO text, as epoch ms; null if neither. */
export function toTimestampMs(text: string | null): number | null {
  if (text === null) return null;
  const t = text.trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(t);
  if (!m) return null;
  // A bare SQLite timestamp is UTC; one with a zone says so itself.
  const iso = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ''}${m[8] ?? 'Z'}`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/** Epoch ms as SQLite's CURRENT_TIMESTAMP text (UTC), what the old hooks compare and print. */
export function sqliteTimestamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

// ---- migrate in ---------------------------------------------------------------------------------

/** A Tmux-Orchestrator agent id → the hornets agent that takes its work, or null: skip it. */
export type AgentMap = ReadonlyMap<string, string | null>;

export interface ImportedToMessage {
  to: ToMessage;
  agent: string;
  message: ExportedMessage;
  /** `pulled` in the old queue: handed out, not known to be read; hornets redelivers it. */
  redelivery: boolean;
}

export interface AgentCarryOver {
  agent: string;
  from: string;
  patch: AgentPatch;
}

export interface ContextCarryOver {
  agent: string;
  from: string;
  patch: AgentContextPatch;
}

export interface MigrationInPlan {
  /** Old agents with work to carry (pending or pulled messages, restart history, context) and no mapping. */
  unmapped: { agentId: string; pending: number; suggestion: string | null }[];
  /** Old agents mapped by the same name, without a --map. */
  mappedByName: { agentId: string; agent: string }[];
  imports: ImportedToMessage[];
  skipped: { to: ToMessage; reason: string }[];
  agents: AgentCarryOver[];
  contexts: ContextCarryOver[];
  /** Messages that named a dependency: kept as their order only (hornets has no dependencies). */
  dependencies: number;
}

export interface MigrationInInput {
  db: ToDatabase;
  map: AgentMap;
  /** hornets agents (hornets.json), for mapping by name. */
  agents: readonly string[];
  /** The hornets id of an old message: stable for the same row, so a second run imports nothing new. */
  idOf: (m: ToMessage) => string;
  now: number;
  maxAttempts: number;
}

const CARRIED = new Set(['pending', 'pulled']);

/** The window part of `session:window` (the whole id when it has no colon). */
export function windowOf(agentId: string): string {
  const i = agentId.lastIndexOf(':');
  return i < 0 ? agentId : agentId.slice(i + 1);
}

/** The hornets agent an old id maps to by name: the whole id, or its window, is an agent's name. */
export function sameNameAgent(agentId: string, agents: readonly string[]): string | null {
  if (agents.includes(agentId)) return agentId;
  const w = windowOf(agentId);
  return agents.includes(w) ? w : null;
}

/**
 * Tmux-Orchestrator's scale is 0 (its default, "normal") to 100 (50 briefings, 90 restart notices,
 * 95 rebriefs, 99 context restores); hornets' is 5 normal, 20 high, 50 critical, 100 emergency, 200
 * its own rebrief. Shifting by 5 keeps the old order among themselves and puts the old default at
 * hornets' normal, so a new `send` does not overtake the old queue.
 */
export const TO_PRIORITY_SHIFT = 5;
const TO_PRIORITY_MAX = 100;

export function priorityFromTo(p: number): number {
  return Math.max(PRIORITY_MIN, Math.min(PRIORITY_MAX, p + TO_PRIORITY_SHIFT));
}

export function priorityToTo(p: number): number {
  return Math.max(0, Math.min(TO_PRIORITY_MAX, p - TO_PRIORITY_SHIFT));
}

export function planMigrationIn(input: MigrationInInput): MigrationInPlan {
  const { db, map, agents } = input;
  const target = new Map<string, string | null>();
  const mappedByName: { agentId: string; agent: string }[] = [];
  const ids = new Set<string>([...db.messages.map((m) => m.agentId), ...db.agents.map((a) => a.agentId), ...db.contexts.map((c) => c.agentId)]);
  for (const id of [...ids].sort()) {
    if (map.has(id)) target.set(id, map.get(id) ?? null);
    else {
      const same = sameNameAgent(id, agents);
      if (same) {
        target.set(id, same);
        mappedByName.push({ agentId: id, agent: same });
      }
    }
  }

  const carries = new Map<string, number>();
  for (const m of db.messages) if (CARRIED.has(m.status)) carries.set(m.agentId, (carries.get(m.agentId) ?? 0) + 1);
  for (const a of db.agents) if (hasHistory(a)) carries.set(a.agentId, carries.get(a.agentId) ?? 0);
  for (const c of db.contexts) if (hasContext(c)) carries.set(c.agentId, carries.get(c.agentId) ?? 0);
  const unmapped = [...carries]
    .filter(([id]) => !target.has(id))
    .map(([agentId, pending]) => ({ agentId, pending, suggestion: null as string | null }))
    .sort((a, b) => a.agentId.localeCompare(b.agentId));

  const imports: ImportedToMessage[] = [];
  const skipped: { to: ToMessage; reason: string }[] = [];
  let dependencies = 0;
  // The old delivery order, FIFO by sequence: hornets gives each imported message the next seq in
  // this order, and orders by (priority, seq) as the old hook did by (priority, sequence_number).
  const ordered = [...db.messages].sort((a, b) => a.sequence - b.sequence || a.id - b.id);
  for (const m of ordered) {
    const agent = target.get(m.agentId);
    if (!CARRIED.has(m.status)) {
      skipped.push({ to: m, reason: m.status === 'delivered' ? 'delivered already' : `status "${m.status}"` });
      continue;
    }
    if (agent === undefined) {
      skipped.push({ to: m, reason: `agent ${m.agentId} is not mapped` });
      continue;
    }
    if (agent === null) {
      skipped.push({ to: m, reason: `agent ${m.agentId} skipped (--skip)` });
      continue;
    }
    if (m.message.trim() === '') {
      skipped.push({ to: m, reason: 'empty message' });
      continue;
    }
    if (m.dependencyId !== null) dependencies++;
    const redelivery = m.status === 'pulled';
    imports.push({
      to: m,
      agent,
      redelivery,
      message: {
        id: input.idOf(m),
        agent,
        priority: priorityFromTo(m.priority),
        body: m.message,
        sender: null,
        key: null,
        attempts: redelivery ? 1 : 0,
        maxAttempts: Math.max(input.maxAttempts, redelivery ? 2 : 1),
        redeliveries: redelivery ? 1 : 0,
        createdAt: toTimestampMs(m.enqueuedAt) ?? input.now,
        expiresAt: null,
        meta: {
          migratedFrom: 'tmux-orchestrator',
          toId: m.id,
          toAgent: m.agentId,
          toSequence: m.sequence,
          toPriority: m.priority,
          ...(m.dependencyId !== null ? { toDependency: m.dependencyId } : {}),
          ...(m.project !== null ? { toProject: m.project } : {}),
        },
      },
    });
  }

  const carried: AgentCarryOver[] = [];
  for (const a of db.agents) {
    const agent = target.get(a.agentId);
    if (!agent || !hasHistory(a)) continue;
    const patch: AgentPatch = {};
    if (a.restartCount !== null && a.restartCount > 0) patch.restartCount = a.restartCount;
    const last = toTimestampMs(a.lastRestart);
    if (last !== null) patch.lastRestart = last;
    if (a.lastError !== null && a.lastError !== '') patch.lastError = a.lastError;
    if (a.contextPreserved !== null && a.contextPreserved !== '' && a.contextPreserved !== '0') patch.contextPreserved = true;
    carried.push({ agent, from: a.agentId, patch });
  }
  const contexts: ContextCarryOver[] = [];
  for (const c of db.contexts) {
    const agent = target.get(c.agentId);
    if (!agent || !hasContext(c)) continue;
    const patch: AgentContextPatch = {};
    const at = toTimestampMs(c.lastBriefing);
    if (at !== null) patch.lastBriefing = at;
    if (c.briefingContent) patch.briefingContent = c.briefingContent;
    if (c.activitySummary) patch.activitySummary = c.activitySummary;
    if (c.checkpointData) patch.checkpointData = checkpoint(c.checkpointData);
    contexts.push({ agent, from: c.agentId, patch });
  }
  return { unmapped, mappedByName, imports, skipped, agents: carried, contexts, dependencies };
}

function hasHistory(a: ToAgent): boolean {
  return (a.restartCount ?? 0) > 0 || !!a.lastRestart || !!a.lastError || (!!a.contextPreserved && a.contextPreserved !== '0');
}

function hasContext(c: ToContext): boolean {
  return !!(c.briefingContent || c.activitySummary || c.checkpointData);
}

/** checkpoint_data was JSON text in the old hooks; anything else is kept as text. */
function checkpoint(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    return { value: v };
  } catch {
    return { text };
  }
}

/** Merging the old agent's history into the hornets record: never lowers a count, never drops an error. */
export function mergeAgentHistory(current: Pick<AgentRecord, 'restartCount' | 'lastRestart' | 'lastError' | 'contextPreserved'>, patch: AgentPatch): AgentPatch {
  const out: AgentPatch = {};
  if (patch.restartCount !== undefined && patch.restartCount > current.restartCount) out.restartCount = patch.restartCount;
  if (patch.lastRestart !== undefined && patch.lastRestart !== null && (current.lastRestart === null || patch.lastRestart > current.lastRestart)) out.lastRestart = patch.lastRestart;
  if (patch.lastError && !current.lastError) out.lastError = patch.lastError;
  if (patch.contextPreserved && !current.contextPreserved) out.contextPreserved = true;
  return out;
}

// ---- roll back out ------------------------------------------------------------------------------

export interface RollbackRow {
  /** The hornets message it came from (recorded in the old database's `migrations` table). */
  hornetsId: string;
  agentId: string;
  message: string;
  priority: number;
  project: string | null;
  enqueuedAt: number;
}

export interface RollbackPlan {
  /** New rows: pending hornets messages the old database does not hold. */
  rows: RollbackRow[];
  /** Old rows that were migrated in and that hornets has finished since: marked delivered. */
  settle: number[];
  /** Old rows migrated in and still pending in hornets, left in place; `pulled` ones set back to pending. */
  kept: number;
  requeue: number[];
  /** hornets agents with pending messages and no old id to give them. */
  unmapped: { agent: string; pending: number }[];
}

export interface RollbackInput {
  pending: readonly Message[];
  /** hornets agent → its old `session:window` id. */
  reverse: ReadonlyMap<string, string>;
  project: string | null;
  /** The rows already in the database rolled back into, with the hornets id each was migrated as. */
  existing: readonly { toId: number; hornetsId: string; status: string }[];
  /** hornets ids migrate brought in (its ledger): those no longer pending were finished by hornets. */
  migrated: ReadonlySet<string>;
}

/**
 * What the old database must hold for its own hooks to carry on exactly where hornets stops: every
 * message pending in hornets, once, and none that hornets finished. Migrate only read the old
 * database, so rows it took in are still there: those hornets still has pending are kept (not
 * written twice), those it finished are marked delivered, and the rest are new rows in hornets'
 * order (seq), each under the old id of its agent (the reverse map, else the id it came from).
 */
export function planRollback(input: RollbackInput): RollbackPlan {
  const pendingIds = new Set(input.pending.map((m) => m.id));
  const inOld = new Set<string>();
  const settle: number[] = [];
  const requeue: number[] = [];
  let kept = 0;
  for (const row of input.existing) {
    if (pendingIds.has(row.hornetsId)) {
      inOld.add(row.hornetsId);
      kept++;
      if (row.status === 'pulled') requeue.push(row.toId);
    } else if (input.migrated.has(row.hornetsId) && (row.status === 'pending' || row.status === 'pulled')) settle.push(row.toId);
  }
  const rows: RollbackRow[] = [];
  const missing = new Map<string, number>();
  for (const m of [...input.pending].sort((a, b) => a.seq - b.seq)) {
    if (inOld.has(m.id)) continue;
    const fromMeta = m.meta && typeof m.meta.toAgent === 'string' ? m.meta.toAgent : null;
    const agentId = input.reverse.get(m.agent) ?? fromMeta;
    if (!agentId) {
      missing.set(m.agent, (missing.get(m.agent) ?? 0) + 1);
      continue;
    }
    const original = m.meta && typeof m.meta.toPriority === 'number' ? m.meta.toPriority : priorityToTo(m.priority);
    const project = m.meta && typeof m.meta.toProject === 'string' ? m.meta.toProject : input.project;
    rows.push({ hornetsId: m.id, agentId, message: m.body, priority: original, project, enqueuedAt: m.createdAt });
  }
  return {
    rows,
    settle: settle.sort((a, b) => a - b),
    kept,
    requeue: requeue.sort((a, b) => a - b),
    unmapped: [...missing].map(([agent, n]) => ({ agent, pending: n })).sort((a, b) => a.agent.localeCompare(b.agent)),
  };
}

// ---- a map proposed from the old installation's live tmux windows ---------------------------------

export interface LiveWindow {
  session: string;
  index: number;
  name: string;
  path: string;
}

export interface MapProposal {
  agentId: string;
  window: LiveWindow | null;
  /** The hornets agent proposed, or null: none fits (then `add` says how to create one). */
  agent: string | null;
  how: 'same directory' | 'same name' | 'none';
  /** For a window with no hornets agent: the `hornets-tui add` arguments that would give it one in place. */
  add: string[] | null;
}

/** The window an old id names: `session:index`, `session:name`, or a bare session (its window 0, as the old rename assumed). */
export function windowFor(agentId: string, windows: readonly LiveWindow[]): LiveWindow | null {
  const i = agentId.lastIndexOf(':');
  const session = i < 0 ? agentId : agentId.slice(0, i);
  const win = i < 0 ? '0' : agentId.slice(i + 1);
  const inSession = windows.filter((w) => w.session === session);
  return (/^\d+$/.test(win) ? inSession.find((w) => w.index === Number(win)) : undefined) ?? inSession.find((w) => w.name === win) ?? null;
}

/** A window name made into an agent name (lower-case letter first, letters, digits, - and _, ≤ 32). */
export function agentNameFrom(window: string): string {
  const s = window
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 32);
  return s === '' ? 'agent' : s;
}

/**
 * For each old id: the hornets agent whose directory is the window's working directory, else the
 * one named like the window; else none, with the `add` that would make one in that directory.
 */
export function proposeMap(agentIds: readonly string[], windows: readonly LiveWindow[], agents: readonly { name: string; dir: string }[]): MapProposal[] {
  const norm = (p: string) => p.replace(/\/+$/, '');
  return [...agentIds].sort().map((agentId): MapProposal => {
    const window = windowFor(agentId, windows);
    if (!window) return { agentId, window: null, agent: null, how: 'none', add: null };
    const byDir = agents.find((a) => norm(a.dir) === norm(window.path));
    if (byDir) return { agentId, window, agent: byDir.name, how: 'same directory', add: null };
    const name = agentNameFrom(window.name);
    const byName = agents.find((a) => a.name === name);
    if (byName) return { agentId, window, agent: byName.name, how: 'same name', add: null };
    return { agentId, window, agent: null, how: 'none', add: ['add', name, '--profile', 'claude-code', '--worktree', window.path] };
  });
}
