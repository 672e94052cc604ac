/**
 * A demo team with an in-process engine on a private tmux server: the fixture engine and life-cycle
 * tests share. `closeTeams()` stops every engine and server it started.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { TmuxFixture, initGitRepo, testEnv } from './tmux.js';
import { openProject, type ProjectContext } from '../../src/services/context.js';
import { Daemon, type DaemonOptions } from '../../src/daemon/daemon.js';
import { QueueService } from '../../src/services/queue-service.js';
import { defaultRestartPolicy, type RestartPolicy } from '../../src/recovery/restart-policy.js';

export const cliPath = join(__dirname, '..', '..', 'bin', 'hornets-tui.cjs');

export interface Team {
  dir: string;
  socket: string;
  ctx: ProjectContext;
  daemon: Daemon;
  svc: QueueService;
}

export interface TeamAgent {
  name: string;
  profile: string;
  env?: Record<string, string>;
}

const fx = new TmuxFixture();
const open: { ctx: ProjectContext; daemon: Daemon }[] = [];

/** Project profiles (profilesDir) written next to hornets.json, for screens a test needs. */
export type ExtraProfiles = Record<string, Record<string, unknown>>;

export async function startTeam(
  agents: TeamAgent[],
  options: { policy?: RestartPolicy; daemon?: DaemonOptions; profiles?: ExtraProfiles; /** More hornets.json settings (e.g. `watch`). */ config?: Record<string, unknown> } = {},
): Promise<Team> {
  const dir = fx.dir('hornets-engine-');
  const socket = fx.socket();
  initGitRepo(dir);
  if (options.profiles) {
    mkdirSync(join(dir, 'profiles'), { recursive: true });
    for (const [name, p] of Object.entries(options.profiles)) writeFileSync(join(dir, 'profiles', `${name}.json`), JSON.stringify({ ...p, name }, null, 2));
  }
  const config = {
    project: 'enginetest',
    ...(options.profiles ? { profilesDir: 'profiles' } : {}),
    agents: agents.map((a) => ({ name: a.name, profile: a.profile, ...(a.env ? { env: a.env } : {}) })),
    ...options.config,
  };
  writeFileSync(join(dir, 'hornets.json'), JSON.stringify(config, null, 2));
  // In-process services and the CLI's child processes must use the same private server.
  process.env.HORNETS_TMUX_SOCKET = socket;
  const ctx = await openProject({ configPath: join(dir, 'hornets.json'), env: testEnv({ HORNETS_HOME: undefined }) });
  const daemon = new Daemon(ctx, { policy: options.policy ?? defaultRestartPolicy, reconcileMs: 500, nudgeTimeoutMs: 3000, ...options.daemon });
  open.push({ ctx, daemon });
  await daemon.start();
  const report = await daemon.engine.agents.up();
  expect(report.failed).toEqual([]);
  return { dir, socket, ctx, daemon, svc: new QueueService(ctx.project, ctx.store, ctx.log) };
}

/** A second engine on the same project, after the first was stopped (an engine restart). */
export async function restartEngine(t: Team, options: DaemonOptions = {}): Promise<Team> {
  await t.daemon.stop();
  const daemon = new Daemon(t.ctx, { reconcileMs: 500, nudgeTimeoutMs: 3000, ...options });
  open.push({ ctx: t.ctx, daemon });
  await daemon.start();
  return { ...t, daemon };
}

export async function closeTeams(): Promise<void> {
  const closed = new Set<ProjectContext>();
  for (const { ctx, daemon } of open.splice(0).reverse()) {
    await daemon.stop().catch(() => undefined);
    if (!closed.has(ctx)) await ctx.close().catch(() => undefined);
    closed.add(ctx);
  }
  await fx.cleanup();
  delete process.env.HORNETS_TMUX_SOCKET;
}

export const stateOf = async (t: Team, agent: string) => (await t.ctx.store.getAgent(agent))!.state;

export function cliEnv(t: Team): NodeJS.ProcessEnv {
  return testEnv({ HORNETS_TMUX_SOCKET: t.socket });
}
