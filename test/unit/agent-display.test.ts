/** The one display rule (domain/agent-display.ts): a table, one row per situation. */
import { describe, expect, it } from 'vitest';
import type { AgentState } from '../../src/domain/agent.js';
import { displayAgent, type DisplayFacts, type DisplayState, type DisplayColour } from '../../src/domain/agent-display.js';

const now = 1_000_000;
const rec = (state: AgentState, patch: { paused?: boolean; lastError?: string | null } = {}) => ({ state: state as AgentState, paused: patch.paused ?? false, lastError: patch.lastError ?? null });

describe('displayAgent', () => {
  const rows: [string, DisplayFacts, DisplayState, string, DisplayColour][] = [
    // No pane: the agent is not running, whatever the record last said…
    ['after down', { record: rec('stopped'), pane: 'none' }, 'stopped', 'stopped', 'muted'],
    ['pane vanished while idle', { record: rec('idle'), pane: 'none' }, 'stopped', 'stopped', 'muted'],
    ['tmux server gone while busy', { record: rec('busy'), pane: 'none' }, 'stopped', 'stopped', 'muted'],
    ['never started', { record: rec('unknown'), pane: 'none' }, 'stopped', 'stopped', 'muted'],
    ['no record, no pane', { record: null, pane: 'none' }, 'stopped', 'stopped', 'muted'],
    // …except what recovery knows says more (defect 4: status said stopped, the console failed).
    ['breaker open, no pane', { record: rec('failed', { lastError: 'auth' }), pane: 'none' }, 'failed', 'failed', 'fatal'],
    ['backing off, no pane', { record: rec('backing-off'), pane: 'none', restartAt: now + 4200, now }, 'backing-off', 'backing-off 5s', 'waiting'],
    // Dead pane.
    ['crashed', { record: rec('idle'), pane: 'dead', exitStatus: 3 }, 'crashed', 'crashed', 'bad'],
    ['stop in progress', { record: rec('stopped'), pane: 'dead' }, 'stopped', 'stopped', 'muted'],
    ['backing off, dead pane', { record: rec('backing-off'), pane: 'dead' }, 'backing-off', 'backing-off', 'waiting'],
    ['breaker open, dead pane', { record: rec('failed'), pane: 'dead' }, 'failed', 'failed', 'fatal'],
    // Live pane: the record says what it does.
    ['idle', { record: rec('idle'), pane: 'alive' }, 'idle', 'idle', 'ok'],
    ['busy', { record: rec('busy'), pane: 'alive' }, 'busy', 'busy', 'busy'],
    ['permission', { record: rec('needs-input'), pane: 'alive' }, 'needs-input', 'needs-input', 'attention'],
    ['compacting', { record: rec('compacting'), pane: 'alive' }, 'compacting', 'compacting', 'info'],
    ['failed is sticky with a live pane', { record: rec('failed'), pane: 'alive' }, 'failed', 'failed', 'fatal'],
    ['paused flag', { record: rec('idle', { paused: true }), pane: 'alive' }, 'paused', 'paused', 'info'],
    ['paused state', { record: rec('paused'), pane: 'alive' }, 'paused', 'paused', 'info'],
    ['starting, nothing reported', { record: rec('starting'), pane: 'alive' }, 'starting', 'starting', 'muted'],
    ['unknown record, live pane', { record: rec('unknown'), pane: 'alive' }, 'starting', 'starting', 'muted'],
    ['starting, screen shows the prompt', { record: rec('starting'), pane: 'alive', screen: 'idle' }, 'idle', 'idle', 'ok'],
    ['starting, screen asks permission', { record: rec('starting'), pane: 'alive', screen: 'permission' }, 'needs-input', 'needs-input', 'attention'],
    ['screen ignored once a hook reported', { record: rec('busy'), pane: 'alive', screen: 'idle' }, 'busy', 'busy', 'busy'],
    // The stuck escalation (defect 2): a slot fed by data.
    ['stuck: stored state', { record: rec('stuck', { lastError: 'stuck: 3 nudges refused' }), pane: 'alive' }, 'stuck', 'stuck', 'waiting'],
    ['an old stuck note on an idle agent is not stuck', { record: rec('idle', { lastError: 'stuck: old' }), pane: 'alive' }, 'idle', 'idle', 'ok'],
    ['paused beats stuck', { record: rec('stuck', { paused: true }), pane: 'alive' }, 'paused', 'paused', 'info'],
    ['a vanished pane beats stuck', { record: rec('stuck'), pane: 'none' }, 'stopped', 'stopped', 'muted'],
    // issue 17: a limit, with the time left until its stated reset
    ['limited, reset ahead', { record: rec('limited', { lastError: `limited until ${new Date(now + 3_900_000).toISOString()}: x` }), pane: 'alive', now }, 'limited', 'limited 1h05m', 'attention'],
    ['limited, reset in seconds', { record: rec('limited', { lastError: `limited until ${new Date(now + 42_000).toISOString()}: x` }), pane: 'alive', now }, 'limited', 'limited 42s', 'attention'],
    ['limited, reset not stated', { record: rec('limited', { lastError: 'limited: rate_limit' }), pane: 'alive', now }, 'limited', 'limited', 'attention'],
    ['limited, its pane gone', { record: rec('limited', { lastError: 'limited: rate_limit' }), pane: 'none', now }, 'stopped', 'stopped', 'muted'],
    // tmux not asked (metrics): the record stands.
    ['unknown pane, idle', { record: rec('idle'), pane: 'unknown' }, 'idle', 'idle', 'ok'],
    ['unknown pane, failed', { record: rec('failed'), pane: 'unknown' }, 'failed', 'failed', 'fatal'],
  ];

  it.each(rows)('%s', (_name, facts, state, label, colour) => {
    const d = displayAgent(facts);
    expect({ state: d.state, label: d.label, colour: d.colour }).toEqual({ state, label, colour });
    expect(d.detail.length).toBeGreaterThan(0);
  });

  it('a limited agent says when it resumes and that messages wait', () => {
    const until = Date.parse('2026-12-03T15:00:00Z');
    const d = displayAgent({ record: rec('limited', { lastError: `limited until ${new Date(until).toISOString()}: You've hit your session limit` }), pane: 'alive', now: until - 60_000 });
    expect(d.detail).toBe("usage limit; resumes at 2026-12-03T15:00:00.000Z with a nudge, messages wait: You've hit your session limit");
    expect(displayAgent({ record: rec('limited', { lastError: 'limited: rate_limit' }), pane: 'alive' }).detail).toBe(
      'usage limit, no reset time stated; messages wait (reset resumes it): rate_limit',
    );
  });

  it('details say why and what to do', () => {
    expect(displayAgent({ record: rec('idle'), pane: 'none' }).detail).toBe('no tmux pane (last known state: idle); `hornets-tui up` starts it');
    expect(displayAgent({ record: rec('idle'), pane: 'dead', exitStatus: 3 }).detail).toMatch(/^exited with status 3;/);
    expect(displayAgent({ record: rec('failed', { lastError: 'invalid api key' }), pane: 'alive' }).detail).toMatch(/breaker open.*invalid api key/);
  });

  it('a long permission hold shows its note (issue 11, item 6); another last error does not make a permission wait look escalated', () => {
    const note = 'held: sh shows a permission prompt since 12:01:03 UTC (line: Proceed? [y/N]); delivery waits until it is answered (attach to answer it)';
    expect(displayAgent({ record: rec('needs-input', { lastError: note }), pane: 'alive' }).detail).toBe(`waiting for a permission answer in its pane (Enter attaches): ${note}`);
    expect(displayAgent({ record: rec('needs-input', { lastError: 'rate limit' }), pane: 'alive' }).detail).toBe('waiting for a permission answer in its pane (Enter attaches)');
    expect(displayAgent({ record: rec('idle', { lastError: note }), pane: 'alive' }).detail).toBe(`at its prompt; messages are delivered at once: ${note}`);
    expect(displayAgent({ record: rec('idle', { lastError: note }), pane: 'none' }).detail).not.toContain(note);
  });
});

describe('hornets_agent_state (metrics) uses the display rule', () => {
  it('one 1 per agent, on the state status and the console show', async () => {
    const { createHornetsMetrics, collectAgentStates } = await import('../../src/daemon/metrics.js');
    const m = createHornetsMetrics();
    const base = {
      profile: 'demo',
      paneId: '%1',
      sessionId: null,
      generation: 1,
      restartCount: 0,
      lastRestart: null,
      contextPreserved: false,
      maxDepth: null,
      lastEventAt: null,
      stopBlocks: 0,
      createdAt: 0,
      updatedAt: 0,
    };
    collectAgentStates(m, [
      { ...base, name: 'marie', state: 'idle', paused: true, lastError: null },
      { ...base, name: 'anga', state: 'stuck', paused: false, lastError: 'stuck: a nudge got no UserPromptSubmit' },
      { ...base, name: 'fabien', state: 'failed', paused: false, lastError: 'auth' },
    ]);
    const text = m.registry.expose();
    const ones = [...text.matchAll(/^hornets_agent_state\{agent="(\w+)",state="([\w-]+)"\} 1$/gm)].map((x) => `${x[1]}=${x[2]}`);
    expect(ones.sort()).toEqual(['anga=stuck', 'fabien=failed', 'marie=paused']);
    expect(text).toContain('hornets_agent_state{agent="marie",state="idle"} 0\n');
  });
});
