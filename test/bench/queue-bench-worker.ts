/**
 * One competing consumer for the multi-process claim+ack benchmark (forked by queue-bench.ts).
 *
 * argv: <ours|raw> <dbPath> <agent> <maxMs>
 * IPC: sends {type:'ready'}, waits for {type:'go'}, claims+acks until the queue is empty or
 * maxMs passes, then sends {type:'done', acked, errors, elapsedMs} and exits.
 */
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import { openRawQueue } from './raw-queue.js';

interface Done {
  type: 'done';
  acked: string[];
  /** Claims whose ack changed nothing (must stay 0: nobody else can hold a 60 s lease). */
  lostAcks: number;
  errors: string[];
  elapsedMs: number;
}

const [mode, dbPath, agent, maxMsArg] = process.argv.slice(2);
if ((mode !== 'ours' && mode !== 'raw') || !dbPath || !agent) {
  console.error('usage: queue-bench-worker <ours|raw> <dbPath> <agent> <maxMs>');
  process.exit(2);
}
const maxMs = Number(maxMsArg ?? 60_000);
const owner = `bench-${process.pid}`;

function send(msg: object): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, () => resolve());
  });
}

async function runOurs(): Promise<Omit<Done, 'type' | 'elapsedMs'>> {
  const store = await openSqliteStore(dbPath!, { limits: { maxDepth: 10_000_000 } });
  await send({ type: 'ready' });
  await go;
  const acked: string[] = [];
  const errors: string[] = [];
  let lostAcks = 0;
  const deadline = Date.now() + maxMs;
  try {
    while (Date.now() < deadline) {
      const claimed = await store.claim(agent!, { owner, leaseMs: 60_000 });
      const m = claimed[0];
      if (!m) break;
      const n = await store.ack({ leaseToken: m.leaseToken! });
      if (n === 1) acked.push(m.id);
      else lostAcks++;
    }
  } catch (err) {
    errors.push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
  } finally {
    await store.close();
  }
  return { acked, errors, lostAcks };
}

async function runRaw(): Promise<Omit<Done, 'type' | 'elapsedMs'>> {
  const q = openRawQueue(dbPath!);
  await send({ type: 'ready' });
  await go;
  const acked: string[] = [];
  const errors: string[] = [];
  let lostAcks = 0;
  const deadline = Date.now() + maxMs;
  try {
    while (Date.now() < deadline) {
      const m = q.claim(agent!, 60_000);
      if (!m) break;
      if (q.ack(m.seq, m.token) === 1) acked.push(m.id);
      else lostAcks++;
    }
  } catch (err) {
    errors.push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
  } finally {
    q.close();
  }
  return { acked, errors, lostAcks };
}

const go = new Promise<void>((resolve) => {
  process.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'go') resolve();
  });
});

const started = { t: 0 };
void go.then(() => {
  started.t = performance.now();
});

try {
  const result = mode === 'ours' ? await runOurs() : await runRaw();
  await send({ type: 'done', ...result, elapsedMs: performance.now() - started.t } satisfies Done);
} catch (err) {
  await send({ type: 'done', acked: [], lostAcks: 0, errors: [String((err as Error)?.stack ?? err)], elapsedMs: 0 } satisfies Done);
}
process.disconnect?.();
process.exit(0);
