/**
 * `npm run bench:redis`: the Redis store beside the raw client sending exactly the store's own
 * commands to a second server with the same history (redis-replay.ts: the issue's anchor), beside a
 * minimal queue on the raw client (raw-redis-queue.ts: a queue without the store's guarantees) and
 * beside `redis-benchmark`, all against one
 * redis-server this run starts on a free port (appendonly off: the server's own ceiling; see the
 * README for what AOF costs). The single-process rows run the store and the raw client in
 * alternating blocks (paired), so both see the same load on a shared machine. Figures only;
 * nothing is asserted.
 *
 *   --quick   shorter run
 *   --aof everysec|always   run the server with AOF and that fsync policy
 *   --cluster  a three-master Redis Cluster instead of one server (store and raw queue alike; no
 *              redis-benchmark rows)
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { EnqueueInput } from '../../src/domain/message.js';
import { openRedisStore, type RedisMessageStore } from '../../src/queue/redis/redis-store.js';
import { startRedisCluster, startRedisServer } from '../helpers/redis.js';
import { compiledSibling, exited, fmtRate, killAll, parseFlags } from './bench-util.js';
import { openRawRedisQueue } from './raw-redis-queue.js';
import { CommandReplay } from './redis-replay.js';

const AGENT = 'bench';
const PROCS = 4;
const children = new Set<ChildProcess>();
let n = 0;
const body = (): string => `bench message ${++n} ${'x'.repeat(100)}`;

interface Measured {
  ops: number;
  ms: number;
}
const rate = (m: Measured, perOp = 1): number => (m.ops * perOp * 1000) / m.ms;

/**
 * The store and the raw client in alternating blocks until each ran `count` operations (or the
 * cap): on a shared, noisy machine both then see the same load, so their ratio holds.
 */
async function paired(count: number, capMs: number, block: number, ...fns: (() => Promise<unknown>)[]): Promise<Measured[]> {
  const sides: [Measured, () => Promise<unknown>][] = fns.map((fn) => [{ ops: 0, ms: 0 }, fn]);
  const t0 = performance.now();
  while (sides.some(([m]) => m.ops < count) && performance.now() - t0 < 2 * capMs) {
    for (const [m, fn] of sides) {
      const n = Math.min(block, count - m.ops);
      const t = performance.now();
      for (let i = 0; i < n; i++) await fn();
      m.ms += performance.now() - t;
      m.ops += n;
    }
  }
  return sides.map(([m]) => m);
}

/** One server, or a Redis Cluster (`url` then lists its nodes comma-separated, as the worker takes it). */
interface Target {
  url: string;
  cluster: string[] | null;
  /** The single server's port (redis-benchmark), null on a cluster. */
  port: number | null;
  destroy(): Promise<void>;
}

async function startTarget(cluster: boolean, aof: 'always' | 'everysec' | false): Promise<Target> {
  if (cluster) {
    const c = await startRedisCluster({ masters: 3 });
    return { url: c.urls.join(','), cluster: c.urls, port: null, destroy: () => c.destroy() };
  }
  const server = await startRedisServer({ aof });
  return { url: server.url, cluster: null, port: server.port, destroy: () => server.destroy() };
}

async function store(server: Target, prefix: string): Promise<RedisMessageStore> {
  const s = await openRedisStore({ url: server.cluster?.[0] ?? server.url, cluster: server.cluster, prefix, limits: { maxDepth: 10_000_000 } });
  await s.registerAgents([{ name: AGENT, profile: 'shell' }]);
  return s;
}

async function prefill(s: RedisMessageStore, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let done = 0; done < count; done += 1000) {
    const batch: EnqueueInput[] = Array.from({ length: Math.min(1000, count - done) }, () => ({ agent: AGENT, body: body() }));
    for (const r of await s.enqueueBatch(batch)) ids.push(r.message.id);
  }
  return ids;
}

async function multi(server: Target, mode: 'ours' | 'raw', prefix: string, count: number): Promise<Measured & { problems: string[] }> {
  let ids: string[] = [];
  if (mode === 'ours') {
    const s = await store(server, prefix);
    ids = await prefill(s, count);
    await s.close();
  } else {
    const q = await openRawRedisQueue(server.url, prefix);
    for (let i = 0; i < count; i += 500) {
      ids.push(...(await Promise.all(Array.from({ length: Math.min(500, count - i) }, () => q.enqueue(body())))));
    }
    await q.close();
  }
  const worker = compiledSibling(import.meta.url, 'redis-bench-worker.js');
  const procs = Array.from({ length: PROCS }, () => {
    const child = fork(worker, [mode, server.url, prefix, AGENT], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(child);
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (m: { type?: string }) => m?.type === 'ready' && resolve());
      child.once('exit', (code) => reject(new Error(`worker exited before ready (${code})`)));
    });
    const done = new Promise<{ acked: string[]; errors: string[] }>((resolve, reject) => {
      child.on('message', (m: { type?: string; acked: string[]; errors: string[] }) => m?.type === 'done' && resolve(m));
      child.once('exit', (code) => reject(new Error(`worker exited without a result (${code})`)));
    });
    done.catch(() => undefined);
    return { child, ready, done };
  });
  await Promise.all(procs.map((p) => p.ready));
  const t0 = performance.now();
  for (const p of procs) p.child.send({ type: 'go' });
  const results = await Promise.all(procs.map((p) => p.done));
  const ms = performance.now() - t0;
  await Promise.all(procs.map((p) => exited(p.child)));
  const seen = new Map<string, number>();
  const problems: string[] = [];
  for (const r of results) {
    problems.push(...r.errors);
    for (const id of r.acked) seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  const twice = [...seen.values()].filter((c) => c > 1).length;
  const lost = ids.filter((id) => !seen.has(id)).length;
  if (twice) problems.push(`${twice} acked twice`);
  if (lost) problems.push(`${lost} never acked`);
  return { ops: seen.size, ms, problems };
}

function redisBenchmark(port: number, quick: boolean): string[] {
  const requests = quick ? '20000' : '100000';
  const lines: string[] = [];
  for (const pipeline of ['1', '16']) {
    const out = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-q', '-n', requests, '-c', '4', '-P', pipeline, '-t', 'set,lpush,zadd'], { encoding: 'utf8' });
    for (const l of out.split(/\r|\n/).filter((x) => /requests per second/.test(x))) lines.push(`  redis-benchmark -c 4 -P ${pipeline.padEnd(2)} ${l.trim()}`);
  }
  return lines;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const quick = flags.has('quick');
  const aofFlag = flags.get('aof');
  const aof = aofFlag === 'always' || aofFlag === 'everysec' ? aofFlag : false;
  const sizes = quick ? { single: 2_000, batches: 10, cycles: 2_000, multi: 4_000, capMs: 3_000 } : { single: 10_000, batches: 50, cycles: 10_000, multi: 20_000, capMs: 10_000 };
  const server = await startTarget(flags.has('cluster'), aof);
  const onSignal = (): void => {
    void killAll(children)
      .then(() => server.destroy())
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const version = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
    console.log(
      `redis bench; ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}; node ${process.version}; ${version}; appendonly ${aof || 'no'}${server.cluster ? '; Redis Cluster, 3 masters' : ''}; load ${os.loadavg()[0]!.toFixed(2)}`,
    );
    const rows: [string, string, number, number, number | null][] = [];
    // The issue's anchor, "the raw client doing the same commands" (redis-replay.ts): a second
    // server of the same kind gets exactly what the store sent; single server only.
    const second = server.cluster ? null : await startRedisServer({ aof });
    const replay = second ? await CommandReplay.open(second.url) : null;
    const recorded = <T>(op: () => Promise<T>): Promise<T> => (replay ? replay.record(op) : op());
    const replayNext = (): Promise<void> => replay!.replayNext();

    try {
      {
        const s = await recorded(() => store(server, 'single'));
        const q = await openRawRedisQueue(server.url, 'single');
        // One after the other: a recording takes whatever is sent while it runs.
        for (let i = 0; i < 100; i++) {
          await recorded(() => s.enqueue({ agent: AGENT, body: body() }));
          await q.enqueue(body());
        }
        await replay?.catchUp();
        const [ours, raw, same] = await paired(
          sizes.single,
          sizes.capMs,
          100,
          () => recorded(() => s.enqueue({ agent: AGENT, body: body() })),
          () => q.enqueue(body()),
          ...(replay ? [replayNext] : []),
        );
        rows.push(['single enqueue', 'msg/s', rate(ours!), rate(raw!), same ? rate(same) : null]);

        const inputs = (): EnqueueInput[] => Array.from({ length: 1000 }, () => ({ agent: AGENT, body: body() }));
        const [oursBatch, rawBatch] = await paired(
          sizes.batches,
          sizes.capMs,
          1,
          () => s.enqueueBatch(inputs()),
          () => Promise.all(Array.from({ length: 1000 }, () => q.enqueue(body()))),
        );
        rows.push(['pipelined enqueue (1,000 at once)', 'msg/s', rate(oursBatch!, 1000), rate(rawBatch!, 1000), null]);
        await s.close();
        await q.close();
      }
      {
        const s = await recorded(() => store(server, 'cycle'));
        await recorded(() => prefill(s, sizes.cycles + 100));
        await replay?.catchUp();
        const q = await openRawRedisQueue(server.url, 'cycle');
        for (let i = 0; i < sizes.cycles + 100; i += 500) await Promise.all(Array.from({ length: 500 }, () => q.enqueue(body())));
        let t = 0;
        const [oursCycle, rawCycle, sameCycle] = await paired(
          sizes.cycles,
          sizes.capMs,
          100,
          () =>
            recorded(async () => {
              const [m] = await s.claim(AGENT, { owner: 'bench', leaseMs: 60_000 });
              if (!m) throw new Error('queue ran dry');
              if ((await s.ack({ leaseToken: m.leaseToken! })) !== 1) throw new Error(`ack of ${m.id} changed nothing`);
            }),
          async () => {
            const token = `t${++t}`;
            const id = await q.claim(token, 60_000);
            if (id === null) throw new Error('raw queue ran dry');
            if ((await q.ack(id, token)) !== 1) throw new Error(`raw ack of ${id} changed nothing`);
          },
          ...(replay ? [replayNext] : []),
        );
        await s.close();
        await q.close();
        rows.push(['claim + ack', 'msg/s', rate(oursCycle!), rate(rawCycle!), sameCycle ? rate(sameCycle) : null]);
      }
      if (replay) console.log(`same cmds: ${replay.replayed} commands replayed, ${replay.differed} answered differently than the store's server`);
    } finally {
      await replay?.close();
      await second?.destroy();
    }
    const oursMulti = await multi(server, 'ours', 'multi-ours', sizes.multi);
    const rawMulti = await multi(server, 'raw', 'multi-raw', sizes.multi);
    rows.push([`claim + ack, ${PROCS} processes`, 'msg/s', rate(oursMulti), rate(rawMulti), null]);

    // "same cmds": the raw client sending exactly the store's commands (the issue's anchor, target
    // ≥ 0.5×); "min. queue": a 3-command queue without the store's guarantees (the stricter one).
    console.log('\noperation                            unit      store    same cmds  store/same   min. queue  store/min  (target ≥ 0.5×)');
    for (const [name, unit, ours, raw, same] of rows) {
      const ratio = ours / raw;
      const sameCells = same === null ? `${'-'.padStart(10)} ${'-'.padStart(11)}` : `${fmtRate(same).padStart(10)} ${`${(ours / same).toFixed(2)}×`.padStart(11)}`;
      const judged = same === null ? ratio : ours / same;
      console.log(
        `${name.padEnd(36)} ${unit.padEnd(6)} ${fmtRate(ours).padStart(8)} ${sameCells} ${fmtRate(raw).padStart(12)} ${`${ratio.toFixed(2)}×`.padStart(10)}  ${judged >= 0.5 ? 'PASS' : 'BELOW'}`,
      );
    }
    const problems = [...oursMulti.problems.map((p) => `store: ${p}`), ...rawMulti.problems.map((p) => `raw: ${p}`)];
    console.log(problems.length ? `\nPROBLEMS: ${problems.join('; ')}` : `\n${PROCS}-process runs: every message acked exactly once (store and raw)`);
    if (server.port !== null) {
      console.log('\nthe server alone, same run:');
      for (const l of redisBenchmark(server.port, quick)) console.log(l);
    }
    console.log(
      `load after: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await killAll(children);
    await server.destroy();
  }
}

await main();
