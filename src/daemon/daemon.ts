/**
 * The engine process (`hornets-tui daemon run`, `--headless`): owns the long-lived database
 * connection, the hook fast path and the engine (idle monitor, recovery, reconciliation).
 */
import { join } from 'node:path';
import type { ProjectContext } from '../services/context.js';
import { HookServer } from './hook-server.js';
import { acquireLock } from './lock.js';
import { Engine, type EngineOptions } from './engine.js';

export function lockFile(stateDir: string): string {
  return join(stateDir, 'run', 'daemon.pid');
}

export class Daemon {
  private release: (() => void) | null = null;
  readonly hooks: HookServer;
  readonly engine: Engine;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly ctx: ProjectContext,
    options: EngineOptions = {},
  ) {
    this.engine = new Engine(ctx, options);
    this.hooks = new HookServer({
      store: ctx.store,
      stateDir: ctx.project.paths.root,
      configPath: ctx.project.configPath,
      log: ctx.log.child({ component: 'hook-server' }),
      onHook: (info) => this.engine.onHook(info.agent, info.event),
      onWake: (agent) => this.engine.wake(agent),
      onPaneDied: (pane, status) => this.engine.onPaneDied(pane, status),
      onControl: (action, agent) => this.engine.control(action, agent),
    });
  }

  async start(): Promise<void> {
    this.release = acquireLock(lockFile(this.ctx.project.paths.root));
    try {
      await this.hooks.start();
      await this.engine.start();
    } catch (err) {
      await this.hooks.stop().catch(() => undefined);
      this.release();
      this.release = null;
      throw err;
    }
    this.ctx.log.info({ event: 'daemon_started', pid: process.pid, hookPort: this.hooks.port }, 'daemon started');
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.engine.stop();
      await this.hooks.stop();
      this.release?.();
      this.release = null;
      this.ctx.log.info({ event: 'daemon_stopped', pid: process.pid }, 'daemon stopped');
    })();
    return this.stopping;
  }
}
