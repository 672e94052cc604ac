/**
 * Child process for test/integration/daemon-lock.test.ts: one would-be daemon taking the pid lock.
 *
 *   lock-worker <pid file>
 *
 * IPC: sends {type:'ready'}, waits for {type:'go', at}, spins until the wall clock reaches `at`
 * (so every worker tries at the same instant), calls acquireLock and sends {type:'won'} or
 * {type:'refused', message}. A winner holds the lock until {type:'release'} (answered with
 * {type:'released'}); the worker then waits for the next round's go, or {type:'exit'}.
 */
import { acquireLock } from '../../../src/daemon/lock.js';

const [file] = process.argv.slice(2);
let release: (() => void) | null = null;

process.on('message', (m: { type?: string; at?: number }) => {
  if (m?.type === 'go') {
    while (Date.now() < (m.at ?? 0)) {
      // spin: a timer would spread the workers over a scheduler tick
    }
    try {
      release = acquireLock(file!);
      process.send?.({ type: 'won' });
    } catch (err) {
      process.send?.({ type: 'refused', message: err instanceof Error ? err.message : String(err) });
    }
  }
  if (m?.type === 'release') {
    release?.();
    release = null;
    process.send?.({ type: 'released' });
  }
  if (m?.type === 'exit') process.exit(0);
});
process.send?.({ type: 'ready' });
