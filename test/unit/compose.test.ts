import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/domain/message.js';
import { BRIEFING_MAX_CHARS, REBRIEF_MAX_CHARS, briefingText, rebriefText, type BriefingInput } from '../../src/hooks/compose.js';

const briefing = (rules: string, role = 'Tester'): BriefingInput => ({ agent: 'cc', project: 'p', role, briefingFile: 'briefings/cc.md', briefingText: rules });

const message = (id: string, body: string): Message =>
  ({
    id,
    body,
    state: 'confirmed',
    seq: 1,
    agent: 'cc',
    priority: 5,
    sender: null,
    key: null,
    attempts: 1,
    maxAttempts: 5,
    availableAt: 0,
    expiresAt: null,
    leaseToken: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    sessionId: null,
    deliveredAt: 0,
    confirmedAt: 0,
    redeliveries: 0,
    lastError: null,
    deadReason: null,
    createdAt: 0,
    updatedAt: 0,
    meta: null,
  }) as Message;

// Claude Code shows the model only a preview of hook output over 10,000 characters; the briefing
// and the rebrief must leave room under that for messages (DESIGN.md §4, src/hooks/compose.ts).
describe('briefing and rebrief sizes', () => {
  it('keeps a short briefing whole', () => {
    const text = briefingText(briefing('RULE-1: be brief.'));
    expect(text).toContain('Rules (from briefings/cc.md):\nRULE-1: be brief.');
    expect(text).toContain('Role: Tester');
    expect(text).toContain('[msg <id>]');
  });

  it('cuts long rules to the cap and says where the rest is', () => {
    const text = briefingText(briefing(`START ${'r'.repeat(50_000)} END`, 'x'.repeat(9_000)));
    expect(text.length).toBeLessThanOrEqual(BRIEFING_MAX_CHARS);
    expect(text).toContain('START');
    expect(text).not.toContain('END');
    expect(text).toMatch(/more characters in briefings\/cc\.md\]/);
    // The note about message ids survives the cut.
    expect(text).toContain('[msg <id>]');
  });

  it('keeps the current task in a rebrief built from long parts, under the cap', () => {
    const text = rebriefText({
      ...briefing('b'.repeat(20_000)),
      reason: 'compact',
      activity: Array.from({ length: 40 }, (_, i) => ({ ts: 0, tool: 'Bash', detail: `step ${i} ${'a'.repeat(150)}` })),
      lastAssistantMessage: 'l'.repeat(5_000),
      currentTask: [message('m1', 't'.repeat(5_000)), message('m2', 'u'.repeat(5_000)), message('m3', 'TASK-THREE')],
      gitBranch: 'hornets/cc',
      gitStatus: `## hornets/cc\n${' M file\n'.repeat(1_000)}`,
    });
    expect(text.length).toBeLessThanOrEqual(REBRIEF_MAX_CHARS);
    expect(text).toContain('## Current task\n- [msg m1]');
    expect(text).toContain('- [msg m3] (received recently) TASK-THREE');
  });

  it('adds activity, last reply and worktree when they fit, without git status\'s own "##" line', () => {
    const text = rebriefText({
      ...briefing('RULE'),
      reason: 'compact',
      activity: [{ ts: 0, tool: 'Bash', detail: 'echo hi' }],
      lastAssistantMessage: 'done',
      currentTask: [],
      gitBranch: 'hornets/cc',
      gitStatus: '## hornets/cc\n?? new.txt\n',
    });
    expect(text).toContain('## Current task\nNo message from hornets is in progress.');
    expect(text).toContain('## Recent activity\n- 00:00:00 Bash: echo hi');
    expect(text).toContain('## Your last reply\ndone');
    expect(text).toContain('## Worktree\nBranch: hornets/cc\n?? new.txt');
    expect(text).not.toContain('## hornets/cc');
  });
});
