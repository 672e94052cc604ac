/**
 * Chaos under load: a team of three demo agents brought up with `hornets-tui up` on a private tmux
 * server, a REAL daemon process (`hornets-tui daemon run`), a producer enqueuing ~150 messages to
 * random agents over time, and a chaos loop that kill -9s the daemon (then starts a new one, which
 * must take over the stale pid file) and, through a wrapper installed as each agent's hook
 * program, sends kill -9 to ~25 % of the hook processes 0–30 ms (half of them 0–5 ms) into their run (those not yet
 * finished die: the bash fast path often is, the native one rarely, a Node fallback rarely).
 * Run once with each hook client.
 *
 * At the end, with one daemon left running: every enqueued message exists and ends `confirmed`, or
 * `dead` with a reason; every confirmed message really reached its agent (the demo agents write
 * everything they receive to a transcript); the database passes `PRAGMA integrity_check`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TmuxFixture, capture, initGitRepo, lastLine, waitFor } from '../helpers/tmux.js';
import { assertBuilt, binPath, cleanEnv, runCli } from '../helpers/cli.js';
import { hookClients } from '../helpers/hook-clients.js';
import { processesOf } from '../helpers/claude-e2e.js';
import { openProject, type ProjectContext } from '../../src/services/context.js';
import { QueueService } from '../../src/services/queue-service.js';
import { installHooks } from '../../src/hooks/installer.js';
import { pidFile as lockFile } from '../../src/engine-client/paths.js';
import { readPid } from '../../src/engine-client/pid.js';
import { pokeDaemon } from '../../src/engine-client/poke.js';
import type { SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';

const AGENTS = ['ada', 'bo', 'cy'];
const MESSAGES = 150;
/** Producer pace: MESSAGES over ~PRODUCE_MS. */
const PRODUCE_MS = 18_000;
/** Chaos runs a little longer than the producer, so the last messages see it too. */
const CHAOS_MS = 21_000;
/**
 * Worst case after the chaos: a lease held by a killed hook lapses (10 s) and is swept (reconcile,
 * 5 s); an agent whose Stop hook was killed shows busy until 15 s of silence plus a reconcile.
 */
const SETTLE_MS = 45_000;

const fx = new TmuxFixture();
const daemons = new Set<ChildProcess>();
let ctx: ProjectContext | null = null;
/** Producer and chaos loops run while this is on; afterEach turns it off should the test fail. */
const run = { on: false };

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function killDaemon(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await exited(child);
  daemons.delete(child);
}

afterEach(async () => {
  run.on = false;
  for (const d of [...daemons]) await killDaemon(d);
  // Kills the tmux server, then runs what the test deferred (wait for hooks, close the store),
  // then removes the directory.
  await fx.cleanup();
  ctx = null;
});

/** Hook processes still finishing after the server died write into the project: let them go first. */
async function hooksGone(root: string): Promise<void> {
  await waitFor('hook processes to exit', () => processesOf(root).length === 0, 10_000, 50).catch(() => {
    for (const pid of processesOf(root)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  });
}

/**
 * The hook program the agents run: the real hook client `real` (native or bash) in its own process
 * group, SIGKILLed (the whole group: the client and a Node fallback alike) 0–30 ms in (half of
 * them 0–5 ms in) for ~25 % of calls. Exits 0 always.
 */
function writeWrapper(dir: string, real: string): { wrapper: string; callLog: string; killLog: string; offSwitch: string } {
  const wrapper = join(dir, 'chaos-hook.sh');
  const callLog = join(dir, 'hook-calls.log');
  const killLog = join(dir, 'hook-kills.log');
  const offSwitch = join(dir, 'chaos-off');
  writeFileSync(
    wrapper,
    `#!/usr/bin/env bash
# chaos wrapper: <node> <Event>
set -m
echo "$HORNETS_AGENT_ID $2" >> ${JSON.stringify(callLog)}
${JSON.stringify(real)} "$@" <&0 &
pid=$!
if [ ! -e ${JSON.stringify(offSwitch)} ] && [ $((RANDOM % 100)) -lt 25 ]; then
  # Half the kills within 0–5 ms: the native client often finishes inside 30 ms, and a kill that
  # finds it gone is no chaos (too few real kills made the run's own check fail now and then).
  if [ $((RANDOM % 2)) -eq 0 ]; then sleep "0.00$((RANDOM % 6))"; else sleep "0.$(printf '%03d' $((RANDOM % 31)))"; fi
  if kill -9 -- "-$pid" 2>/dev/null; then echo "$HORNETS_AGENT_ID $2" >> ${JSON.stringify(killLog)}; fi
fi
wait "$pid" 2>/dev/null
exit 0
`,
  );
  chmodSync(wrapper, 0o755);
  return { wrapper, callLog, killLog, offSwitch };
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

// Both hook clients (the native one only where the build could make it): each must lose nothing.
describe.each(hookClients.filter((c) => c.available))('chaos: kill -9 of the daemon and of hooks while messages flow ($name hook client)', ({ program }) => {
  it('loses nothing and leaves the database intact', { timeout: 110_000 }, async () => {
    assertBuilt();
    const dir = fx.dir('hornets-chaos-');
    const socket = fx.socket();
    initGitRepo(dir);
    fx.defer(() => hooksGone(dir));
    fx.defer(() => ctx?.close());
    writeFileSync(join(dir, 'hornets.json'), JSON.stringify({ project: 'chaostest', agents: AGENTS.map((name) => ({ name, profile: 'demo', env: { HORNETS_DEMO_WORK_MS: '50' } })) }, null, 2));
    const env = { HORNETS_TMUX_SOCKET: socket };
    const up = await runCli(['up', '--no-engine', '--json'], { cwd: dir, env, timeoutMs: 30_000 });
    expect(up.code, up.stderr).toBe(0);
    expect((JSON.parse(up.stdout) as { created: string[] }).created.sort()).toEqual([...AGENTS].sort());

    ctx = await openProject({ configPath: join(dir, 'hornets.json'), env: cleanEnv(env) });
    const store = ctx.store as SqliteMessageStore;
    const stateDir = ctx.project.paths.root;
    const svc = new QueueService(ctx.project, store, ctx.log);
    await waitFor('agents idle after SessionStart', async () => (await store.listAgents()).every((a) => a.state === 'idle'), 20_000);

    const { wrapper, callLog, killLog, offSwitch } = writeWrapper(dir, program);
    for (const name of AGENTS) installHooks(join(dir, '.hornets', 'worktrees', name), [wrapper, process.execPath]);

    // ------------------------------------------------------------ the daemon, a real process
    const daemonErr: string[] = [];
    let daemonStarts = 0;
    const startDaemon = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, [binPath, 'daemon', 'run'], { cwd: dir, env: cleanEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
      daemons.add(child);
      daemonStarts++;
      child.stderr!.on('data', (d: Buffer) => daemonErr.push(d.toString('utf8')));
      // Up = it took the lock (its pid in the pid file) and answers on the endpoint it published.
      await waitFor(
        `daemon ${child.pid} up`,
        async () => {
          if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}: ${daemonErr.join('')}`);
          return readPid(lockFile(stateDir)) === child.pid && (await pokeDaemon(stateDir, '/wake', {}, 200));
        },
        15_000,
        20,
      );
      return child;
    };
    let daemon = await startDaemon();

    // ------------------------------------------------------------ producer and chaos
    const ids: string[] = [];
    const started = Date.now();
    run.on = true;
    const producer = (async () => {
      for (let i = 0; i < MESSAGES && run.on; i++) {
        const agent = AGENTS[Math.floor(Math.random() * AGENTS.length)]!;
        const { message } = await svc.send(agent, `chaos ${i} for ${agent}`, { priority: Math.random() < 0.2 ? 20 : 5, sender: 'chaos' });
        ids.push(message.id);
        const due = started + ((i + 1) * PRODUCE_MS) / MESSAGES;
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      }
    })();

    let daemonKills = 0;
    const chaos = (async () => {
      while (run.on && Date.now() - started < CHAOS_MS) {
        await new Promise((r) => setTimeout(r, 500 + Math.random() * 2000));
        if (!run.on) break;
        await killDaemon(daemon);
        daemonKills++;
        // Sometimes the hooks find no daemon for a while and take the direct path.
        await new Promise((r) => setTimeout(r, Math.random() < 0.5 ? 0 : Math.random() * 800));
        daemon = await startDaemon();
      }
    })();
    await producer;
    await chaos;
    run.on = false;
    writeFileSync(offSwitch, '');
    const hookKills = lines(killLog).length;
    const chaosEnded = Date.now();

    // ------------------------------------------------------------ settle with one daemon
    expect(daemons.size).toBe(1);
    const terminal = async () => {
      const all = await store.list({ limit: 10_000 });
      return all.filter((m) => ids.includes(m.id)).every((m) => m.state === 'confirmed' || m.state === 'dead');
    };
    const settled = await waitFor('every message confirmed or dead', terminal, SETTLE_MS, 250).catch(() => false);

    // ------------------------------------------------------------ the verdict
    const all = new Map((await store.list({ limit: 10_000 })).map((m) => [m.id, m]));
    const missing = ids.filter((id) => !all.has(id));
    const byState: Record<string, number> = {};
    for (const id of ids) {
      const s = all.get(id)?.state ?? 'missing';
      byState[s] = (byState[s] ?? 0) + 1;
    }
    const unexplained = ids.filter((id) => {
      const m = all.get(id);
      return !m || (m.state !== 'confirmed' && !(m.state === 'dead' && m.deadReason));
    });
    // What the agents really received, from their own transcripts.
    const received = new Map<string, number>();
    for (const name of AGENTS) {
      for (const l of lines(join(stateDir, 'demo', `${name}.jsonl`))) {
        const text = (JSON.parse(l) as { text: string }).text;
        for (const m of text.matchAll(/\[msg ([0-9A-Za-z]+)/g)) received.set(m[1]!, (received.get(m[1]!) ?? 0) + 1);
      }
    }
    // At least once: a hook killed after writing a reply but before its ack leaves the lease to
    // lapse, and the message (same id) comes again.
    const receivedTwice = ids.filter((id) => (received.get(id) ?? 0) > 1).length;
    const confirmedNotReceived = ids.filter((id) => all.get(id)?.state === 'confirmed' && !received.has(id));
    let leaseExpiries = 0;
    let requeues = 0;
    for (const id of ids) {
      const events = await store.events({ messageId: id, limit: 1000 });
      leaseExpiries += events.filter((e) => e.kind === 'lease_expired').length;
      requeues += events.filter((e) => e.kind === 'requeued').length;
    }
    let screenRecoveries = 0;
    for (const name of AGENTS) screenRecoveries += (await store.events({ agent: name, limit: 10_000 })).filter((e) => e.kind === 'state_from_screen').length;
    const redeliveries = ids.reduce((n, id) => n + (all.get(id)?.redeliveries ?? 0), 0);
    const integrity = store.integrityCheck();
    const report = {
      messages: ids.length,
      byState,
      daemonKills,
      daemonStarts,
      hookCalls: lines(callLog).length,
      hookKills,
      redeliveries,
      requeues,
      leaseExpiries,
      screenRecoveries,
      receivedTwice,
      confirmedNotReceived: confirmedNotReceived.length,
      integrity,
      chaosSeconds: Math.round((chaosEnded - started) / 1000),
      settleSeconds: Math.round((Date.now() - chaosEnded) / 1000),
    };
    console.log(`chaos: ${JSON.stringify(report)}`);
    const stuck = ids.filter((id) => !['confirmed', 'dead'].includes(all.get(id)?.state ?? ''));
    const details = async (list: string[]) =>
      (
        await Promise.all(
          list.slice(0, 5).map(async (id) => `${id} ${all.get(id)?.agent} ${all.get(id)?.state}: ${(await store.events({ messageId: id })).map((e) => `${e.kind}->${e.toState}`).join(', ')}`),
        )
      ).join('\n');
    const agentRows = (await store.listAgents()).map(
      (a) => `${a.name} ${a.state} last event ${Date.now() - (a.lastEventAt ?? 0)} ms ago; screen: ${JSON.stringify(lastLine(capture(socket, a.paneId ?? '')))}`,
    );
    const diag = `${JSON.stringify(report)}\nagents:\n${agentRows.join('\n')}\nstuck:\n${await details(stuck)}\nconfirmed, never received:\n${await details(confirmedNotReceived)}`;

    expect(ids).toHaveLength(MESSAGES);
    expect(missing, diag).toEqual([]);
    expect(settled, diag).toBe(true);
    expect(unexplained, diag).toEqual([]);
    expect(confirmedNotReceived, diag).toEqual([]);
    expect(integrity).toBe('ok');
    // The chaos really happened: the daemon died several times and hooks were killed.
    expect(daemonKills).toBeGreaterThanOrEqual(4);
    expect(hookKills).toBeGreaterThanOrEqual(3);
    // A new daemon took over the stale pid file each time, and one is running now.
    expect(readPid(lockFile(stateDir))).toBe(daemon.pid);
    expect(daemonErr.join('')).not.toMatch(/already running/);
  });
});
