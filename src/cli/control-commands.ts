/** `pause | resume | restart | reset | rebrief <agent>`, `history <agent>`, and `--headless`. */
import { openProject } from '../services/context.js';
import { control, type ControlAction } from '../services/control.js';
import { AgentManager } from '../services/agents.js';
import { Daemon } from '../daemon/daemon.js';
import { runUntilSignal } from './daemon-commands.js';
import { downOnSignalFromEnv } from '../config/process-env.js';
import { recoveryKinds } from '../services/snapshot.js';
import { json, table, type Output } from './output.js';
import type { GlobalOptions } from './queue-commands.js';

export async function controlCommand(o: Output, g: GlobalOptions, action: ControlAction, agent: string, opts: { json?: boolean }): Promise<void> {
  const ctx = await openProject({ configPath: g.config, component: 'control' });
  try {
    const answer = await control(ctx, action, agent);
    if (opts.json) json(o, { action, agent, result: answer });
    else o.out(answer);
  } finally {
    await ctx.close();
  }
}

// The same life-cycle events the console's recovery panel shows, plus raw state transitions.
const historyKinds: ReadonlySet<string> = new Set([...recoveryKinds, 'agent_state']);

export async function historyCommand(o: Output, g: GlobalOptions, agent: string, opts: { all?: boolean; limit?: string; json?: boolean }): Promise<void> {
  const ctx = await openProject({ configPath: g.config, component: 'cli' });
  try {
    new AgentManager(ctx.project, ctx.store, ctx.log).agentConfig(agent);
    const events = (await ctx.store.events({ agent, limit: 5000 })).filter((e) => e.messageId === null && (opts.all || historyKinds.has(e.kind)));
    const limit = Number(opts.limit ?? 50);
    const shown = events.slice(-limit);
    if (opts.json) return json(o, shown);
    if (shown.length === 0) return o.out(`no recorded history for ${agent}`);
    o.out(
      table(
        ['TIME', 'EVENT', 'STATE', 'DETAIL'],
        shown.map((e) => [
          new Date(e.ts).toISOString().replace('T', ' ').slice(0, 19),
          e.kind,
          e.fromState || e.toState ? `${e.fromState ?? ''} -> ${e.toState ?? ''}` : '',
          e.detail ? JSON.stringify(e.detail).slice(0, 100) : '',
        ]),
      ),
    );
  } finally {
    await ctx.close();
  }
}

/** `--headless`: bring the team up and run the engine in the foreground until a signal. */
export async function headlessCommand(o: Output, g: GlobalOptions): Promise<void> {
  const ctx = await openProject({ configPath: g.config, component: 'daemon' });
  const daemon = new Daemon(ctx);
  try {
    await daemon.start();
    const report = await daemon.engine.agents.up();
    o.err(`hornets headless: ${report.created.length} started, ${report.running.length} already running, ${report.failed.length} failed; daemon pid ${process.pid}`);
    for (const f of report.failed) o.err(`  ${f.agent}: ${f.error}`);
  } catch (err) {
    await daemon.stop().catch(() => undefined);
    await ctx.close();
    throw err;
  }
  // In a container the agents die with it: on docker stop / pod deletion they are ended as `down`
  // ends them (SIGTERM, a wait, then the tmux server) rather than SIGKILLed with the container.
  await runUntilSignal(daemon, ctx, downOnSignalFromEnv() ? { afterStop: (d) => d.engine.agents.down({ timeoutMs: DOWN_ON_SIGNAL_WAIT_MS }).then(() => undefined) } : {});
}

/** How long agents get to exit on SIGTERM before the tmux server goes (well inside a 60 s grace period). */
const DOWN_ON_SIGNAL_WAIT_MS = 20_000;
