/**
 * The agent life cycle on real tmux with demo agents and a real engine: regression tests for the
 * defects of issue 9 — one crash costs one restart however late its reports arrive, `failed` is
 * sticky (late hooks, late pane-died reports, an engine restart), an old spinner line on screen
 * does not wedge idle delivery, and refused nudges escalate to a visible `stuck`.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listPanes, waitFor } from '../helpers/tmux.js';
import { cliEnv, cliPath, closeTeams, restartEngine, startTeam, stateOf, type Team } from '../helpers/team.js';
import { defaultRestartPolicy } from '../../src/recovery/restart-policy.js';
import { hookProgram } from '../../src/services/hooks-program.js';
import { hookClients } from '../helpers/hook-clients.js';
import { agentCredential, loadOrCreateAgentKey } from '../../src/hooks/credentials.js';

afterEach(closeTeams);

/** The client `hooks install` writes (native when built); tests of hook replies run both. */
const installedHook = hookProgram()[0]!;

/** The installed hook program, as the agent CLI runs it for `event`. */
// Child processes run asynchronously: the engine under test lives in this process and must keep
// answering them (hooks and the CLI talk to it over its endpoint).
function run(file: string, args: string[], options: { cwd?: string; env: NodeJS.ProcessEnv; input?: string }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { cwd: options.cwd, env: options.env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

async function runHookWith(t: Team, agent: string, event: string, payload: Record<string, unknown>, program = installedHook): Promise<string> {
  const record = (await t.ctx.store.getAgent(agent))!;
  const r = await run(program, [process.execPath, event], {
    input: JSON.stringify({ session_id: record.sessionId ?? 'test-session', hook_event_name: event, ...payload }),
    env: {
      ...cliEnv(t),
      HORNETS_AGENT_ID: agent,
      HORNETS_HOME: t.ctx.project.paths.root,
      HORNETS_GENERATION: String(record.generation),
      // What the agent's pane holds: its generation's own credential.
      HORNETS_HOOK_TOKEN: agentCredential(loadOrCreateAgentKey(t.ctx.project.paths.root), agent, record.generation),
    },
  });
  expect(r.code).toBe(0);
  return r.stdout;
}

const cli = (t: Team, args: string[]) => run(process.execPath, [cliPath, ...args], { cwd: t.dir, env: cliEnv(t) });

const restartsOf = async (t: Team, agent: string) => (await t.ctx.store.events({ agent, limit: 1000, kinds: ['agent_restarted'] })).filter((e) => e.detail?.['byRecovery'] === true).length;

describe('agent life cycle on real tmux', () => {
  it('one kill -9 costs exactly one restart, even when a pane-died report arrives after the restart', async () => {
    const t = await startTeam([{ name: 'marie', profile: 'demo' }], { policy: { ...defaultRestartPolicy, backoffBaseMs: 200 } });
    await waitFor('marie idle', async () => (await stateOf(t, 'marie')) === 'idle', 20_000);
    const first = (await t.ctx.store.getAgent('marie'))!;
    const pane = listPanes(t.socket).find((p) => p.paneId === first.paneId)!;
    process.kill(pane.pid, 'SIGKILL');
    await waitFor(
      'marie restarted and idle',
      async () => {
        const r = (await t.ctx.store.getAgent('marie'))!;
        return r.generation === first.generation + 1 && r.state === 'idle';
      },
      30_000,
      50,
    );
    // The tmux pane-died hook runs a separate process; on a loaded machine it can be seconds late,
    // by when recovery has respawned the same pane id. Late reports of the old death, by every path:
    const late = await cli(t, ['internal', 'pane-died', first.paneId!, '137']);
    expect(late.code).toBe(0);
    t.daemon.engine.onPaneDied(first.paneId!, 137);
    await t.daemon.engine.recovery.crashReported({ paneId: first.paneId!, generation: first.generation, exitStatus: 137, source: 'test' });
    await t.daemon.engine.reconcile();
    await t.daemon.engine.recovery.crashReported({ paneId: first.paneId!, generation: null, exitStatus: 137, source: 'test' });
    const after = (await t.ctx.store.getAgent('marie'))!;
    expect(after.generation).toBe(first.generation + 1);
    expect(after.state).toBe('idle');
    expect(await restartsOf(t, 'marie')).toBe(1);
    expect((await t.ctx.store.events({ agent: 'marie', limit: 1000, kinds: ['restart_scheduled'] })).length).toBe(1);
  }, 90_000);

  it('failed stays failed: a late pane-died report, a crash report and an engine restart do not clear it', async () => {
    const policy = { ...defaultRestartPolicy, maxRestarts: 1, backoffBaseMs: 200 };
    const t = await startTeam([{ name: 'fabien', profile: 'demo', env: { HORNETS_DEMO_CRASH_ON_START: '1' } }], { policy });
    await waitFor('fabien failed', async () => (await stateOf(t, 'fabien')) === 'failed', 45_000, 50);
    const record = (await t.ctx.store.getAgent('fabien'))!;
    // The pane-died hook's own process, late, after the engine already opened the breaker.
    expect((await cli(t, ['internal', 'pane-died', record.paneId!, '3'])).code).toBe(0);
    await t.daemon.engine.recovery.crashReported({ paneId: record.paneId!, generation: null, exitStatus: 3, source: 'test' });
    await t.daemon.engine.reconcile();
    expect(await stateOf(t, 'fabien')).toBe('failed');
    expect(await restartsOf(t, 'fabien')).toBe(1);
    const t2 = await restartEngine(t, { policy });
    expect(t2.daemon.engine.recoveryState('fabien').breaker).toBe('open');
    await t2.daemon.engine.reconcile();
    expect(await stateOf(t2, 'fabien')).toBe('failed');
    expect(await restartsOf(t2, 'fabien')).toBe(1);
  }, 90_000);

  // The native client only where the build could make it (test/helpers/hook-clients.ts).
  it.each(hookClients.filter((c) => c.available))(
    'an authentication error fails the agent, and its next Stop hook does not write idle over it ($name hook client)',
    async ({ program }) => {
      const runHook = (t: Team, agent: string, event: string, payload: Record<string, unknown>) => runHookWith(t, agent, event, payload, program);
      const t = await startTeam([{ name: 'marie', profile: 'demo' }]);
      await waitFor('marie idle', async () => (await stateOf(t, 'marie')) === 'idle', 20_000);
      await runHook(t, 'marie', 'StopFailure', { error: 'authentication_error: invalid x-api-key (401)' });
      await waitFor('marie failed', async () => (await stateOf(t, 'marie')) === 'failed', 10_000);
      // The pane lives on: the agent's next turn ends with a Stop hook, and a later idle notice.
      await runHook(t, 'marie', 'Stop', { stop_hook_active: false, last_assistant_message: 'ok' });
      expect(await stateOf(t, 'marie')).toBe('failed');
      await runHook(t, 'marie', 'Notification', { notification_type: 'idle_prompt', message: 'Claude is waiting for your input' });
      const record = (await t.ctx.store.getAgent('marie'))!;
      expect(record.state).toBe('failed');
      expect(record.lastError).toMatch(/^authentication failed: authentication_error: .*401/);
      expect((await t.ctx.store.events({ agent: 'marie', limit: 500, kinds: ['agent_failed'] })).length).toBe(1);
      expect(t.daemon.engine.recoveryState('marie').breaker).toBe('open');
      const status = JSON.parse((await cli(t, ['status', '--json'])).stdout) as { name: string; state: string }[];
      expect(status.find((s) => s.name === 'marie')!.state).toBe('failed');
      // An engine restart remembers the failure; a reset clears it.
      const t2 = await restartEngine(t);
      expect(t2.daemon.engine.recoveryState('marie').breaker).toBe('open');
      expect(await stateOf(t2, 'marie')).toBe('failed');
      expect((await cli(t2, ['reset', 'marie'])).stdout).toMatch(/breaker closed/);
      expect(await stateOf(t2, 'marie')).toBe('idle');
      expect(t2.daemon.engine.recoveryState('marie').breaker).toBe('closed');
    },
    90_000,
  );

  it('an old spinner line still on screen does not stop idle delivery', async () => {
    const t = await startTeam([{ name: 'marie', profile: 'demo' }]);
    await waitFor('marie idle', async () => (await stateOf(t, 'marie')) === 'idle', 20_000);
    // The demo agent prints what it is handed: this puts its busy marker on screen as old output.
    const first = await t.svc.send('marie', 'status line from before: working… (old)');
    await waitFor('first confirmed', async () => (await t.ctx.store.get(first.message.id)).state === 'confirmed', 30_000);
    await waitFor('marie idle again', async () => (await stateOf(t, 'marie')) === 'idle', 10_000);
    const second = await t.svc.send('marie', 'second message');
    await waitFor('second confirmed', async () => (await t.ctx.store.get(second.message.id)).state === 'confirmed', 30_000);
    expect((await t.ctx.store.events({ agent: 'marie', limit: 500 })).some((e) => e.kind === 'stuck')).toBe(false);
  }, 90_000);

  it('refused nudges escalate to stuck within a bounded time, visible in status and queue why', async () => {
    const demo = JSON.parse(readFileSync(join(__dirname, '..', '..', 'profiles', 'demo.json'), 'utf8')) as Record<string, unknown> & { patterns: Record<string, unknown> };
    delete demo.$schema;
    // Its screen always reads busy (the prompt itself matches), while its hooks say idle: a wedge.
    const wedged = { ...demo, description: 'demo agent whose screen always looks busy', patterns: { ...demo.patterns, busy: ['^demo>'] } };
    const t = await startTeam([{ name: 'marie', profile: 'wedged' }], { profiles: { wedged }, daemon: { stuckAfterMs: 1_500, stuckRetryMs: 60_000 } });
    await waitFor('marie idle (hooks)', async () => (await stateOf(t, 'marie')) === 'idle', 20_000);
    const sent = Date.now();
    const { message } = await t.svc.send('marie', 'please look at this');
    await waitFor('marie stuck', async () => (await stateOf(t, 'marie')) === 'stuck', 20_000, 50).catch(async (e: unknown) => {
      console.log(JSON.stringify((await t.ctx.store.events({ agent: 'marie', limit: 100 })).map((x) => [x.kind, x.toState, x.detail])));
      console.log(
        readFileSync(t.ctx.project.paths.logFile, 'utf8')
          .split('\n')
          .filter((l) => /nudge|engine/.test(l))
          .slice(-10)
          .join('\n'),
      );
      throw e;
    });
    expect(Date.now() - sent).toBeLessThan(15_000);
    const record = (await t.ctx.store.getAgent('marie'))!;
    expect(record.lastError).toMatch(/^stuck: \d+ nudges refused over \d+ s: hooks say idle but the screen shows it busy/);
    expect((await t.ctx.store.events({ agent: 'marie', limit: 500 })).some((e) => e.kind === 'stuck')).toBe(true);
    const status = JSON.parse((await cli(t, ['status', '--json'])).stdout) as { name: string; state: string }[];
    expect(status.find((s) => s.name === 'marie')!.state).toBe('stuck');
    expect((await cli(t, ['queue', 'why', message.id])).stdout).toMatch(
      /marie is stuck \(stuck: \d+ nudges refused .*\): it waits until marie takes a prompt again; attach to look, `hornets-tui reset marie` tries at once/,
    );
    expect((await t.ctx.store.get(message.id)).state).toBe('queued');
    // The operator's reset tries again; any real activity of the agent also ends `stuck`.
    await runHookWith(t, 'marie', 'UserPromptSubmit', { prompt: 'typed by a person' });
    expect(await stateOf(t, 'marie')).toBe('busy');
  }, 90_000);
});
