/**
 * Issue 11 (6): text on screen that looks like a permission prompt — a message body, output that
 * echoes one, the codex profile's word "Approve" in ordinary output — must not hold delivery. Only
 * the live prompt region of the pane counts, and what hornets typed itself never does. A real
 * prompt still holds delivery, is escalated after `holdAlertMs` (logged once, named in `why`), and
 * answering it lets delivery go on. Real tmux, real agents (the demo agent and bash), in-process
 * engine.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { builtinProfilesDir } from '../../src/config/paths.js';
import { capture, tmuxOk, waitFor } from '../helpers/tmux.js';
import { closeTeams, startTeam, stateOf, type Team } from '../helpers/team.js';

afterEach(closeTeams);

/** Well inside the 20 s after which refused nudges make an agent stuck: "promptly". */
const PROMPTLY_MS = 8_000;

const confirmed = (t: Team, id: string) => async () => (await t.ctx.store.get(id)).state === 'confirmed';

/** A shipped profile's screen patterns on a bash pane, so the patterns meet real terminal output. */
function shippedPatternsOnBash(profile: string, prompt: string): Record<string, unknown> {
  const shipped = JSON.parse(readFileSync(join(builtinProfilesDir(), `${profile}.json`), 'utf8')) as { patterns: unknown };
  return {
    description: `${profile} screen patterns on bash`,
    command: ['bash', '--noprofile', '--norc', '-i'],
    env: { PS1: prompt },
    delivery: 'push',
    hooks: { kind: 'none' },
    patterns: shipped.patterns,
    messageFormat: 'plain',
  };
}

async function refusals(t: Team, agent: string): Promise<string[]> {
  const events = await t.ctx.store.events({ agent, limit: 500 });
  return events.filter((e) => e.kind === 'nudge_refused' || e.kind === 'agent_state' || e.kind === 'delivery_held').map((e) => `${e.kind}:${e.toState ?? ''}`);
}

describe('on-screen text does not wedge delivery (issue 11, item 6)', () => {
  it('demo agent: a message containing "(yes/no)" and "Allow Bash? [y/n]" on screen does not hold the next one', async () => {
    const t = await startTeam([{ name: 'marie', profile: 'demo', env: { HORNETS_DEMO_WORK_MS: '20' } }]);
    await waitFor('marie idle', async () => (await stateOf(t, 'marie')) === 'idle', 20_000);
    const first = await t.svc.send('marie', 'Shall I go on (yes/no)? The tool asked: Allow Bash? [y/n]');
    await waitFor('first message confirmed', confirmed(t, first.message.id), 20_000);
    // The demo agent printed the body: the prompt-like text is on screen above its prompt.
    const pane = (await t.ctx.store.getAgent('marie'))!.paneId!;
    await waitFor('marie back at her prompt with the text above', () => {
      const screen = capture(t.socket, pane);
      return screen.includes('Allow Bash? [y/n]') && /demo> $/m.test(screen.trimEnd() + ' ');
    });
    const second = await t.svc.send('marie', 'second message');
    await waitFor('second message confirmed promptly', confirmed(t, second.message.id), PROMPTLY_MS);
    const events = await t.ctx.store.events({ agent: 'marie', limit: 500 });
    expect(events.filter((e) => e.kind === 'nudge_refused')).toEqual([]);
    expect(await stateOf(t, 'marie')).not.toBe('stuck');
  }, 60_000);

  it('shell agent: output that echoes "(yes/no)" does not hold the next message', async () => {
    const t = await startTeam([{ name: 'sh', profile: 'shell' }]);
    await waitFor('shell idle', async () => (await stateOf(t, 'sh')) === 'idle', 20_000);
    const marker = join(t.dir, 'second.txt');
    const first = await t.svc.send('sh', "echo 'Overwrite the file (yes/no)?'");
    await waitFor('first confirmed', confirmed(t, first.message.id), 20_000);
    const pane = (await t.ctx.store.getAgent('sh'))!.paneId!;
    await waitFor('the echo is on screen', () => capture(t.socket, pane).includes('\nOverwrite the file (yes/no)?'));
    // A reconciliation round reads the screen with the echo on it before the next message comes.
    await t.daemon.engine.reconcile();
    const second = await t.svc.send('sh', `echo second-ok > ${marker}`);
    await waitFor('second confirmed promptly', confirmed(t, second.message.id), PROMPTLY_MS);
    expect(await refusals(t, 'sh')).not.toContain('agent_state:needs-input');
  }, 60_000);

  it('codex profile: the word "Approve" in ordinary output does not hold delivery', async () => {
    const t = await startTeam([{ name: 'cx', profile: 'codex-on-bash' }], { profiles: { 'codex-on-bash': shippedPatternsOnBash('codex', '▌ ') } });
    await waitFor('cx idle', async () => (await stateOf(t, 'cx')) === 'idle', 20_000);
    const first = await t.svc.send('cx', 'echo Approve the plan before lunch');
    await waitFor('first confirmed', confirmed(t, first.message.id), 20_000);
    const pane = (await t.ctx.store.getAgent('cx'))!.paneId!;
    await waitFor('the output is on screen', () => capture(t.socket, pane).includes('\nApprove the plan before lunch'));
    await t.daemon.engine.reconcile();
    const second = await t.svc.send('cx', 'echo second');
    await waitFor('second confirmed promptly', confirmed(t, second.message.id), PROMPTLY_MS);
    expect(await refusals(t, 'cx')).not.toContain('agent_state:needs-input');
  }, 60_000);

  it('a real prompt holds delivery, is escalated and named by `why`; answering it lets the message through', async () => {
    const t = await startTeam([{ name: 'sh', profile: 'shell' }], { daemon: { holdAlertMs: 1_000 } });
    await waitFor('shell idle', async () => (await stateOf(t, 'sh')) === 'idle', 20_000);
    const answer = join(t.dir, 'answer.txt');
    // Our own typed line contains "[y/N]" too: only the prompt `read` draws below it counts.
    const asking = await t.svc.send('sh', `read -p 'Delete everything? [y/N] ' a; echo "answered-$a" > ${answer}`);
    await waitFor('the question was typed', confirmed(t, asking.message.id), 20_000);
    const pane = (await t.ctx.store.getAgent('sh'))!.paneId!;
    await waitFor('the prompt is drawn', () => capture(t.socket, pane).trimEnd().endsWith('Delete everything? [y/N]'));
    const held = await t.svc.send('sh', 'echo must-wait');
    await waitFor('sh waits for a permission answer', async () => (await stateOf(t, 'sh')) === 'needs-input', 10_000);
    const why = await waitFor(
      'the hold escalated and named',
      async () => {
        const w = (await t.svc.explain(held.message.id)).why;
        return w.includes('held:') ? w : null;
      },
      10_000,
      50,
    );
    expect(why).toMatch(/held: sh shows a permission prompt since \d\d:\d\d:\d\d/);
    expect(why).toContain('(line: Delete everything? [y/N])');
    expect((await t.ctx.store.get(held.message.id)).state).toBe('queued');
    // Escalated once, not once per pass.
    await t.daemon.engine.reconcile();
    await t.daemon.engine.reconcile();
    const escalations = (await t.ctx.store.events({ agent: 'sh', limit: 500 })).filter((e) => e.kind === 'delivery_held');
    expect(escalations).toHaveLength(1);

    // The person at the pane answers: the prompt is gone, the hold ends, the message goes through.
    tmuxOk(t.socket, ['send-keys', '-t', pane, 'n', 'Enter']);
    await waitFor('held message delivered after the answer', confirmed(t, held.message.id), PROMPTLY_MS);
    expect(readFileSync(answer, 'utf8').trim()).toBe('answered-n');
    expect((await t.ctx.store.getAgent('sh'))!.lastError).toBeNull();
    const released = (await t.ctx.store.events({ agent: 'sh', limit: 500 })).filter((e) => e.kind === 'delivery_released');
    expect(released).toHaveLength(1);
  }, 60_000);

  it('a push agent with hooks (codex kind): a prompt refusing every push is escalated and named by `why`, and answering it lets the message through', async () => {
    const profile = { ...shippedPatternsOnBash('codex', '▌ '), hooks: { kind: 'codex' } };
    const t = await startTeam([{ name: 'cx', profile: 'codex-hooked-on-bash' }], { profiles: { 'codex-hooked-on-bash': profile }, daemon: { holdAlertMs: 1_000 } });
    const pane = (await t.ctx.store.getAgent('cx'))!.paneId!;
    await waitFor('the bash prompt', () => capture(t.socket, pane).trimEnd().endsWith('▌'), 20_000);
    const answer = join(t.dir, 'answer.txt');
    const asking = await t.svc.send('cx', `read -p 'Allow command? [y/N] ' a; echo "answered-$a" > ${answer}`);
    await waitFor('the question was typed', confirmed(t, asking.message.id), 20_000);
    await waitFor('the prompt is drawn', () => capture(t.socket, pane).trimEnd().endsWith('Allow command? [y/N]'));
    const held = await t.svc.send('cx', 'echo must-wait');
    const why = await waitFor(
      'the hold escalated and named',
      async () => {
        const w = (await t.svc.explain(held.message.id)).why;
        return w.includes('held:') ? w : null;
      },
      10_000,
      50,
    );
    expect(why).toContain('held: cx shows a permission prompt since');
    expect(why).toContain('(line: Allow command? [y/N])');
    expect((await t.ctx.store.get(held.message.id)).state).toBe('queued');
    tmuxOk(t.socket, ['send-keys', '-t', pane, 'y', 'Enter']);
    await waitFor('held message delivered after the answer', confirmed(t, held.message.id), PROMPTLY_MS);
    expect(readFileSync(answer, 'utf8').trim()).toBe('answered-y');
    expect((await t.ctx.store.getAgent('cx'))!.lastError).toBeNull();
  }, 60_000);
});
