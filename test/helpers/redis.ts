/**
 * A real redis-server per test (or per file): its own port, its own directory, stopped afterwards.
 * Never a shared or system server. `.ci/run` installs the Debian package when it is missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
