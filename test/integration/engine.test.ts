/**
 * The engine on real tmux with demo agents: idle nudges delivered through the hooks, push delivery
 * for a push-only profile, a real crash loop (exact restarts, growing backoff, then failed), and
 * recovery from the tmux server dying — with the queue intact throughout.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testEnv, waitFor, tmux } from '../helpers/tmux.js';
import { cliPath as cli, closeTeams, startTeam, stateOf as state, type TeamAgent } from '../helpers/team.js';
import { defaultRestartPolicy } from '../../src/recovery/restart-policy.js';

afterEach(closeTeams);

const team = (agents: TeamAgent[], policy = defaultRestartPolicy) => startTeam(agents, { policy });

describe('engine on real tmux', () => {
  it('nudges an idle hook agent; UserPromptSubmit hands the message over and it ends confirmed', async () => {
    const t = await team([{ name: 'marie', profile: 'demo' }]);
    await waitFor('marie idle after SessionStart', async () => (await state(t, 'marie')) === 'idle', 20_000);
    const { message } = await t.svc.send('marie', 'please review the plan');
    await waitFor('message confirmed', async () => (await t.ctx.store.get(message.id)).state === 'confirmed', 20_000);
    const events = await t.ctx.store.events({ agent: 'marie', limit: 200 });
    const sent = events.filter((e) => e.kind === 'nudge_sent');
    expect(sent).toHaveLength(1);
    expect(events.some((e) => e.kind === 'nudge_seen' && e.detail?.['nonce'] === sent[0]!.detail?.['nonce'])).toBe(true);
    const history = await t.ctx.store.events({ messageId: message.id });
    expect(history.map((e) => e.toState)).toEqual(['queued', 'leased', 'delivered', 'confirmed']);
    expect(history[1]!.detail?.['owner']).toMatch(/^hook:UserPromptSubmit/);
  }, 60_000);

  it('types messages into a push-only agent (shell profile) and confirms them', async () => {
    const t = await team([{ name: 'sh', profile: 'shell' }]);
    const marker = join(t.dir, 'pushed.txt');
    await waitFor('shell idle', async () => (await state(t, 'sh')) === 'idle', 20_000);
    const { message } = await t.svc.send('sh', `echo pushed-ok > ${marker}`);
    await waitFor('message confirmed', async () => (await t.ctx.store.get(message.id)).state === 'confirmed', 20_000);
    // The shell ran the line: the text arrived whole and Enter was taken.
    await waitFor('shell ran it', () => spawnSync('cat', [marker], { encoding: 'utf8' }).stdout.trim() === 'pushed-ok', 10_000);
  }, 60_000);

  it('delivery chosen for the team in hornets.json (defaults.delivery "push") wins over the profile: a hooks profile is typed into', async () => {
    const t = await startTeam([{ name: 'marie', profile: 'demo' }], { config: { defaults: { priority: 5, delivery: 'push' } } });
    await waitFor('marie idle', async () => (await state(t, 'marie')) === 'idle', 20_000);
    const { message } = await t.svc.send('marie', 'typed, not pulled');
    await waitFor('message confirmed', async () => (await t.ctx.store.get(message.id)).state === 'confirmed', 20_000);
    const history = await t.ctx.store.events({ messageId: message.id });
    expect(history.map((e) => e.toState)).toEqual(['queued', 'leased', 'delivered', 'confirmed']);
    expect(history[1]!.detail?.['owner']).toMatch(/^push/);
    expect((await t.ctx.store.events({ agent: 'marie', limit: 200 })).filter((e) => e.kind === 'nudge_sent')).toEqual([]);
  }, 60_000);

  it('crash loop: exactly the allowed restarts with growing backoff, then failed', async () => {
    const policy = { ...defaultRestartPolicy, maxRestarts: 3, backoffBaseMs: 300, backoffMaxMs: 10_000 };
    const t = await team([{ name: 'fabien', profile: 'demo', env: { HORNETS_DEMO_CRASH_ON_START: '1' } }], policy);
    await waitFor('fabien failed', async () => (await state(t, 'fabien')) === 'failed', 45_000, 100);
    const events = await t.ctx.store.events({ agent: 'fabien', limit: 500 });
    const restarts = events.filter((e) => e.kind === 'agent_restarted' && e.detail?.['byRecovery'] === true);
    const scheduled = events.filter((e) => e.kind === 'restart_scheduled').map((e) => Number(e.detail?.['delayMs']));
    expect(restarts).toHaveLength(3);
    expect(scheduled).toHaveLength(3);
    // 300, 600, 1200 ms, each within ±20 % jitter.
    scheduled.forEach((d, i) => {
      const base = 300 * 2 ** i;
      expect(d).toBeGreaterThanOrEqual(base * 0.8);
      expect(d).toBeLessThanOrEqual(base * 1.2);
    });
    expect(events.some((e) => e.kind === 'agent_failed' && String(e.detail?.['reason']).includes('3 restarts'))).toBe(true);
    const record = (await t.ctx.store.getAgent('fabien'))!;
    expect(record.restartCount).toBe(3);
    expect(record.lastError).toMatch(/3 restarts within 60 min/);
    // Nothing more happens: no fourth restart while the breaker is open.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await t.ctx.store.events({ agent: 'fabien', limit: 500 })).filter((e) => e.kind === 'agent_restarted' && e.detail?.['byRecovery'] === true)).toHaveLength(3);
    // A manual reset allows restarts again.
    expect(await t.daemon.engine.control('reset', 'fabien')).toMatch(/breaker closed/);
  }, 90_000);

  it("agents made after the engine's reconcile round have their pid and `healthy` in the next heartbeat, not 10 s later", async () => {
    // startTeam starts the engine, then brings the agents up (as `up` does when it launches the engine).
    const t = await startTeam([{ name: 'marie', profile: 'demo' }], { daemon: { reconcileMs: 600_000 } });
    await waitFor('marie idle', async () => (await state(t, 'marie')) === 'idle', 20_000);
    await t.daemon.heartbeats.beat();
    const beat = JSON.parse(readFileSync(join(t.ctx.project.paths.heartbeats, 'marie.json'), 'utf8')) as { status: string; pid: number | null };
    const pane = (await t.ctx.store.getAgent('marie'))!.paneId!;
    expect(beat).toMatchObject({ status: 'healthy', pid: Number(tmux(t.socket, ['display-message', '-p', '-t', pane, '#{pane_pid}']).stdout.trim()) });
  });

  it('a trigger file becomes a delivered message; a task file yields a result; metrics, health and heartbeats are served', async () => {
    const t = await team([{ name: 'marie', profile: 'demo' }]);
    await waitFor('marie idle', async () => (await state(t, 'marie')) === 'idle', 20_000);
    const paths = t.ctx.project.paths;
    mkdirSync(join(paths.triggers, 'marie'), { recursive: true });
    writeFileSync(join(paths.triggers, 'marie', 'tmp-1'), JSON.stringify({ message: 'from a trigger file', priority: 'high' }));
    renameSync(join(paths.triggers, 'marie', 'tmp-1'), join(paths.triggers, 'marie', 'one.trigger'));
    const fromTrigger = await waitFor(
      'trigger enqueued',
      async () => (await t.ctx.store.list({ agent: 'marie', states: ['queued', 'leased', 'delivered', 'confirmed'] })).find((m) => m.body === 'from a trigger file'),
      15_000,
    );
    expect(fromTrigger.priority).toBe(20);
    await waitFor('trigger message confirmed', async () => (await t.ctx.store.get(fromTrigger.id)).state === 'confirmed', 20_000);

    mkdirSync(join(paths.tasks, 'marie'), { recursive: true });
    writeFileSync(join(paths.tasks, 'marie', 'tmp'), JSON.stringify({ task_id: 'T-42', description: 'summarise the backlog', timeout: '5m' }));
    renameSync(join(paths.tasks, 'marie', 'tmp'), join(paths.tasks, 'marie', 'T-42.json'));
    const resultFile = join(paths.results, 'marie', 'T-42.json');
    const result = await waitFor('task result written', () => (existsSync(resultFile) ? (JSON.parse(readFileSync(resultFile, 'utf8')) as Record<string, unknown>) : null), 30_000, 100);
    expect(result.status).toBe('completed');
    expect(String(result.result)).toMatch(/^done: /);

    const metricsUrl = readFileSync(join(paths.run, 'metrics-endpoint'), 'utf8').trim();
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metrics).toContain('watcher_tasks_processed_total{worker="marie",status="completed"} 1');
    expect(metrics).toContain('hornets_hook_duration_seconds_bucket');
    const health = (await (await fetch(`${metricsUrl}/healthz`)).json()) as { status: string };
    expect(health.status).toBe('ok');
    await t.daemon.heartbeats.beat();
    const beat = JSON.parse(readFileSync(join(paths.heartbeats, 'marie.json'), 'utf8')) as Record<string, unknown>;
    expect(beat.state).toBe('idle');
    // Seed 003's own probe, as its README runs it: age from `timestamp` (epoch seconds) and `status`.
    const probe = spawnSync(
      'python3',
      [
        '-c',
        "import json, time; hb = json.load(open(__import__('sys').argv[1])); age = time.time() - float(hb['timestamp']); print(f'{age:.1f} {hb[\"status\"]} {hb[\"active_tasks\"]}')",
        join(paths.heartbeats, 'marie-watcher.json'),
      ],
      { encoding: 'utf8' },
    );
    expect(probe.stderr).toBe('');
    const [age, status, active] = probe.stdout.trim().split(' ');
    expect(Number(age)).toBeGreaterThanOrEqual(0);
    expect(Number(age)).toBeLessThan(60);
    expect([status, active]).toEqual(['healthy', '0']);
  }, 90_000);

  it('watch mode "poll" (hornets.json): the running engine watches no directory and its poll takes a trigger file in', async () => {
    const t = await startTeam([{ name: 'marie', profile: 'demo' }], { config: { watch: { mode: 'poll', interval: '200ms' } } });
    expect(t.daemon.triggers.watchState()).toEqual({ mode: 'poll', intervalMs: 200, watchedDirs: 0 });
    expect(t.daemon.tasks.watchState()).toEqual({ mode: 'poll', intervalMs: 200, watchedDirs: 0 });
    const dir = join(t.ctx.project.paths.triggers, 'marie');
    writeFileSync(join(dir, 'tmp-poll'), JSON.stringify({ message: 'found by the poll' }));
    renameSync(join(dir, 'tmp-poll'), join(dir, 'poll.trigger'));
    const m = await waitFor(
      'the polled trigger enqueued',
      async () => (await t.ctx.store.list({ agent: 'marie', states: ['queued', 'leased', 'delivered', 'confirmed'] })).find((x) => x.body === 'found by the poll'),
      15_000,
    );
    expect(m.meta).toEqual({ source: 'trigger', file: 'poll.trigger' });
    expect(t.daemon.triggers.watchState().watchedDirs).toBe(0);
  });

  it('recreates and resumes the agents when the tmux server dies; the queue is intact', async () => {
    const t = await team([
      { name: 'marie', profile: 'demo' },
      { name: 'anga', profile: 'demo' },
    ]);
    await waitFor('agents idle', async () => (await state(t, 'marie')) === 'idle' && (await state(t, 'anga')) === 'idle', 20_000);
    await t.ctx.store.transitionAgent('anga', { type: 'pause' });
    const kept = await t.ctx.store.enqueue({ agent: 'anga', body: 'must survive the server' });
    const before = (await t.ctx.store.getAgent('marie'))!.generation;
    tmux(t.socket, ['kill-server']);
    await waitFor(
      'agents recreated',
      async () => {
        const events = await t.ctx.store.events({ agent: 'marie', limit: 200 });
        return events.some((e) => e.kind === 'agent_recreated');
      },
      20_000,
      100,
    );
    await waitFor(
      'marie running again',
      async () => {
        const r = (await t.ctx.store.getAgent('marie'))!;
        return r.generation > before && r.paneId !== null;
      },
      20_000,
    );
    const status = await t.daemon.engine.agents.status();
    expect(status.find((s) => s.name === 'marie')!.alive).toBe(true);
    expect((await t.ctx.store.get(kept.message.id)).state).toBe('queued');
    expect(spawnSync(process.execPath, [cli, 'queue', 'list', '--json'], { cwd: t.dir, env: testEnv({ HORNETS_TMUX_SOCKET: t.socket }), encoding: 'utf8' }).stdout).toContain(kept.message.id);
  }, 60_000);
});
