/** Plain data for tests of pure code (views, view-model, explanations): one agent record, pane and message shape. */
import type { Project } from '../../src/config/load.js';
import { hornetsConfigSchema } from '../../src/config/schema.js';
import type { AgentRecord } from '../../src/domain/agent.js';
import type { Message } from '../../src/domain/message.js';
import type { PaneInfo } from '../../src/tmux/argv.js';

/** The fixtures' clock: every timestamp below is relative to it. */
export const fixtureNow = Date.UTC(2026, 10, 21, 12, 0, 0);

export function projectFixture(names: string[]): Project {
  const config = hornetsConfigSchema.parse({ project: 'demo', agents: names.map((name) => ({ name, profile: 'demo' })) });
  return { configPath: '/p/hornets.json', root: '/p', config, profiles: new Map(), paths: { root: '/p/.hornets' } as Project['paths'] };
}

export function recordFixture(name: string, patch: Partial<AgentRecord> = {}): AgentRecord {
  return {
    name,
    profile: 'demo',
    state: 'idle',
    paneId: `%${name.length}`,
    sessionId: 's',
    generation: 1,
    restartCount: 0,
    lastRestart: null,
    lastError: null,
    contextPreserved: false,
    paused: false,
    maxDepth: null,
    lastEventAt: fixtureNow - 3000,
    stopBlocks: 0,
    createdAt: fixtureNow - 60_000,
    updatedAt: fixtureNow,
    ...patch,
  };
}

export function paneFixture(id: string, patch: Partial<PaneInfo> = {}): PaneInfo {
  return { paneId: id, session: 'demo', windowId: '@1', windowName: 'x', pid: 1, dead: false, deadStatus: null, currentCommand: 'node', width: 200, height: 50, inMode: false, ...patch };
}

export function messageFixture(id: string, patch: Partial<Message> = {}): Message {
  return {
    id,
    seq: 1,
    agent: 'marie',
    priority: 5,
    body: 'hello\nworld',
    sender: 'console',
    key: null,
    state: 'queued',
    attempts: 0,
    maxAttempts: 5,
    availableAt: fixtureNow,
    expiresAt: null,
    leaseToken: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    sessionId: null,
    deliveredAt: null,
    confirmedAt: null,
    redeliveries: 0,
    lastError: null,
    deadReason: null,
    createdAt: fixtureNow - 12_000,
    updatedAt: fixtureNow,
    meta: null,
    ...patch,
  };
}
