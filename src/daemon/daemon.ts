/**
 * The engine process (`hornets-tui daemon run`, `--headless`): owns the long-lived database
 * connection and the hook fast path. Later parts (idle monitor, recovery, watchers, metrics) hang
 * off the same start/stop life cycle.
 */
import { join } from 'node:path';
import type { ProjectContext } from '../services/context.js';
import { HookServer } from './hook-server.js';
import { acquireLock } from './lock.js';

export function lockFile(stateDir: string): string {
  return join(stateDir, 'run', 'daemon.pid');
}

export class Daemon {
  private release: (() => void) | null = null;
  readonly hooks: HookServer;
  private stopping: Promise<void> | null = null;

  constructor(private readonly ctx: ProjectContext) {
    this.hooks = new HookServer({ store: ctx.store, stateDir: ctx.project.paths.root, configPath: ctx.project.configPath, log: ctx.log.child({ component: 'hook-server' }) });
  }

  async start(): Promise<void> {
    this.release = acquireLock(lockFile(this.ctx.project.paths.root));
    try {
      await this.hooks.start();
    } catch (err) {
      this.release();
      this.release = null;
      throw err;
    }
    this.ctx.log.info({ event: 'daemon_started', pid: process.pid, hookPort: this.hooks.port }, 'daemon started');
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.hooks.stop();
      this.release?.();
      this.release = null;
      this.ctx.log.info({ event: 'daemon_stopped', pid: process.pid }, 'daemon stopped');
    })();
    return this.stopping;
  }
}
