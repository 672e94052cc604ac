/**
 * A worker engine as its own process, for the kill -9 test and bench:tasks.
 *
 *   worker-engine <state dir> <tmux socket> <maxConcurrent> [workers=fab]
 *
 * Sends {type:'ready'} over IPC once it watches its task directories; stops on SIGTERM. Runs go on
 * in their tmux windows when it dies; the next engine on the same directory adopts them.
 */
import { startWorkerHarness, workerSettingsFixture } from './harness.js';
import { createLogger } from '../../../src/log.js';
import { join } from 'node:path';

const [dir, socket, max, names] = process.argv.slice(2);
const workers = (names ?? 'fab').split(',').map((n) => workerSettingsFixture(n, { maxConcurrent: Number(max ?? '3'), maxRetries: 2 }));
const env: Record<string, string> = {};
if (process.env.HORNETS_DEMO_RUN_LOG) env.HORNETS_DEMO_RUN_LOG = process.env.HORNETS_DEMO_RUN_LOG;

void (async () => {
  const h = await startWorkerHarness({ dir: dir!, socket: socket!, workers, env, log: createLogger(join(dir!, 'engine.log'), { level: 'info' }) });
  process.on('SIGTERM', () => {
    void h.stop().then(() => process.exit(0));
  });
  // The pool's and the watcher's timers do not hold a process open (the daemon's servers do).
  setInterval(() => undefined, 1 << 30);
  process.send?.({ type: 'ready', pid: process.pid });
})();
