/**
 * A real redis-server per test (or per file): its own port, its own directory, stopped afterwards.
 * Never a shared or system server. `.ci/run` installs the Debian package when it is missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { freePort } from './ports.js';

export interface RedisServerOptions {
  /** Append-only file: fsync policy, or false for none (default: none, RDB snapshots off too). */
  aof?: 'always' | 'everysec' | 'no' | false;
  /** requirepass. */
  password?: string;
  /** A port to use (default: a free one). A restart keeps the port. */
  port?: number;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
}

export interface RedisServer {
  port: number;
  /** redis://[:password@]127.0.0.1:port */
  url: string;
  dir: string;
  pid(): number | null;
  /** SIGTERM and wait (with AOF on, Redis fsyncs on a clean shutdown). */
  stop(): Promise<void>;
  /** SIGKILL and wait: what survives is only what was fsynced. */
  kill9(): Promise<void>;
  /** Starts it again on the same port and directory (after stop or kill9). */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Resolves when the server answers PING (or asks for a password), rejects after `timeoutMs`. */
async function waitUp(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      let got = '';
      s.setTimeout(500, () => (s.destroy(), resolve(false)));
      s.on('error', () => resolve(false));
      s.on('connect', () => s.write('PING\r\n'));
      s.on('data', (d: Buffer) => {
        got += d.toString('utf8');
        if (got.includes('\r\n')) {
          s.destroy();
          // +PONG, or -NOAUTH when a password is set; -LOADING while the AOF is replayed is not up yet.
          resolve(got.startsWith('+PONG') || got.startsWith('-NOAUTH'));
        }
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-redis-'));
  const port = options.port ?? (await freePort());
  let child: ChildProcess | null = null;
  let stderr = '';

  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--daemonize',
    'no',
    '--logfile',
    join(dir, 'redis.log'),
    '--appendonly',
    options.aof ? 'yes' : 'no',
    ...(options.aof ? ['--appendfsync', options.aof] : []),
    ...(options.password ? ['--requirepass', options.password] : []),
    ...(options.args ?? []),
  ];

  const exited = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r())));

  const server: RedisServer = {
    port,
    url: `redis://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}`,
    dir,
    pid: () => child?.pid ?? null,
    async start() {
      if (child) return;
      const c = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      c.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      live.add(c);
      c.once('exit', () => live.delete(c));
      child = c;
      try {
        await waitUp(port, 10_000, c);
      } catch (err) {
        c.kill('SIGKILL');
        child = null;
        throw new Error(`${err instanceof Error ? err.message : String(err)}${stderr ? `: ${stderr.trim()}` : ''}`);
      }
    },
    async stop() {
      const c = child;
      if (!c) return;
      c.kill('SIGTERM');
      await exited(c);
      child = null;
    },
    async kill9() {
      const c = child;
      if (!c) return;
      c.kill('SIGKILL');
      await exited(c);
      child = null;
    },
    async destroy() {
      await server.kill9();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

export interface RedisClusterOptions {
  /** Master nodes (default 3: the fewest `redis-cli --cluster create` accepts). */
  masters?: number;
  /** requirepass and masterauth of every node. */
  password?: string;
  /** Replicas per master (default 0): `--cluster-replicas`, so a master's death can be failed over. */
  replicas?: number;
  /** Append-only file of every node (see RedisServerOptions.aof). */
  aof?: RedisServerOptions['aof'];
  /** Extra redis-server arguments of every node. */
  args?: string[];
}

export interface RedisCluster {
  /** Every node, masters and replicas, in the order they were started. */
  nodes: RedisServer[];
  /** redis://[:password@]127.0.0.1:port of every node: the seed list hornets is given. */
  urls: string[];
  /** Stops every node and removes their directories. */
  destroy(): Promise<void>;
}

/** Polls CLUSTER INFO on every node until each says `cluster_state:ok`. */
async function waitClusterOk(nodes: RedisServer[], password: string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const auth = password ? ['-a', password, '--no-auth-warning'] : [];
  for (;;) {
    const ok = nodes.every((n) => {
      const r = spawnSync('redis-cli', ['-p', String(n.port), ...auth, 'cluster', 'info'], { encoding: 'utf8', timeout: 5_000 });
      return r.status === 0 && /cluster_state:ok/.test(r.stdout);
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`Redis Cluster on ports ${nodes.map((n) => n.port).join(', ')} did not reach cluster_state:ok within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function cli(port: number, password: string | undefined, ...args: string[]): string {
  const auth = password ? ['-a', password, '--no-auth-warning'] : [];
  const r = spawnSync('redis-cli', ['-p', String(port), ...auth, ...args], { encoding: 'utf8', timeout: 5_000 });
  return r.status === 0 ? r.stdout : '';
}

/** Polls until every replica has its master link up (the initial sync done). */
async function waitReplicasInSync(nodes: RedisServer[], password: string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = nodes.every((n) => {
      const info = cli(n.port, password, 'info', 'replication');
      return /role:master/.test(info) || /master_link_status:up/.test(info);
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the replicas of the Redis Cluster did not finish their sync within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A real Redis Cluster: `masters` redis-server processes with cluster mode on (each its own port and
 * directory, its bus on port + 10000), joined by `redis-cli --cluster create`, with `replicas` replicas
 * per master (default none; redis-cli picks which node replicates which master).
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  const nodes: RedisServer[] = [];
  const destroy = async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      // The cluster bus listens on port + 10000: both must be free.
      let port = await freePort();
      while (port + 10_000 > 65_535) port = await freePort();
      nodes.push(
        await startRedisServer({
          port,
          password: options.password,
          aof: options.aof,
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '2000',
            ...(options.password ? ['--masterauth', options.password] : []),
            ...(options.args ?? []),
          ],
        }),
      );
    }
    const auth = options.password ? ['-a', options.password, '--no-auth-warning'] : [];
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes', ...auth], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed (${created.status}): ${created.stdout}${created.stderr}`);
    await waitClusterOk(nodes, options.password, 20_000);
    if (replicas > 0) await waitReplicasInSync(nodes, options.password, 20_000);
  } catch (err) {
    await destroy();
    throw err;
  }
  return { nodes, urls: nodes.map((n) => n.url), destroy };
}

/**
 * A client of the test's Redis: a plain one, or an ioredis Cluster typed as `Redis` (as
 * queue/redis/connect.ts hands it out), so a test written for one server runs on a cluster too.
 */
export function testClient(target: { server: RedisServer } | { cluster: RedisCluster }, options: RedisOptions = {}): Redis {
  if ('server' in target) return new Redis(target.server.url, options);
  const { password } = new URL(target.cluster.urls[0]!);
  return new Cluster(
    target.cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    { redisOptions: { ...options, ...(password ? { password: decodeURIComponent(password) } : {}) } },
  ) as unknown as Redis;
}
