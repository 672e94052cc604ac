/**
 * Child process for the cluster tests: a would-be node on its own connection to Redis.
 *
 *   cluster-worker <redis url> <project> <timing ms>
 *
 * IPC in: {type:'register', name} → {type:'registered'} or {type:'refused', name, holder, message};
 *         {type:'elect', duty} → {type:'elected', token} / {type:'demoted', reason, token} as they happen
 *         (timing ms is the heartbeat interval and the lease's retry interval; TTLs are 3× and 6×).
 * Sends {type:'ready'} first. It never unregisters or releases: tests end it with SIGKILL.
 */
import { Redis } from 'ioredis';
import { DuplicateNodeError } from '../../../src/cluster/errors.js';
import { clusterKeys } from '../../../src/cluster/keys.js';
import { LeaderElection } from '../../../src/cluster/leader.js';
import { NodeRegistry } from '../../../src/cluster/node-registry.js';

const [url, project, timing] = process.argv.slice(2);
const ms = Number(timing);
const redis = new Redis(url!);
redis.on('error', () => undefined);
const keys = clusterKeys(project!);
const registry = new NodeRegistry({ redis, keys, heartbeatMs: ms, lostAfterMs: 3 * ms });
const send = (m: object) => process.send?.(m);

process.on('message', (m: { type?: string; name?: string; duty?: string }) => {
  if (m?.type === 'register') {
    registry.register(m.name!, { host: 'worker-host', pid: process.pid, startedAt: Date.now(), version: 'test' }).then(
      () => send({ type: 'registered' }),
      (err: unknown) => send({ type: 'refused', duplicate: err instanceof DuplicateNodeError, holder: err instanceof DuplicateNodeError ? err.holder : null, message: String(err) }),
    );
  }
  if (m?.type === 'elect') {
    const election = new LeaderElection({
      redis,
      keys,
      duty: m.duty!,
      candidate: `worker-${process.pid}`,
      leaseMs: 6 * ms,
      retryMs: ms,
      onElected: (token) => send({ type: 'elected', token }),
      onDemoted: (reason, token) => send({ type: 'demoted', reason, token }),
    });
    election.start();
  }
});
send({ type: 'ready' });
