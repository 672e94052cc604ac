/**
 * Runs the real CLI (bin/hornets-tui.cjs, package.json's bin -> dist/) as a child process, in throw-away project
 * directories. `npm run build` must have run first: the launcher imports dist/src/cli.js.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory above this file with a package.json: the repository, also when run from dist/. */
function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const repoRoot = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));
export const binPath = path.join(repoRoot, 'bin', 'hornets-tui.cjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  /** Written to stdin, which is then closed; without it stdin is an empty pipe (never a TTY). */
  input?: string | Buffer;
  /** Added to the cleaned environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** Run as this user and group (root only): root writes through any file mode. */
  uid?: number;
  gid?: number;
  /** A program the CLI runs under, e.g. `['ip', 'netns', 'exec', 'ns1']` (a node in its own network). */
  wrap?: string[];
}

/** The caller's environment minus everything that would point the CLI at another project or change its output. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // REDIS_*: a Redis in the caller's environment would move every test project's queue into it.
  for (const k of Object.keys(env)) if (k.startsWith('HORNETS_') || /^REDIS_(URL|HOST|PORT|PASSWORD)$/.test(k)) delete env[k];
  delete env.NODE_OPTIONS; // vitest may inject loaders that the child must not inherit
  env.NO_COLOR = '1';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function assertBuilt(): void {
  const entry = path.join(repoRoot, 'dist', 'src', 'cli.js');
  if (!existsSync(entry)) throw new Error(`${path.relative(repoRoot, entry)} is missing: run \`npm run build\` before these tests`);
}

/** Async so that independent tests can run their processes at the same time. */
export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const argv = [...(opts.wrap ?? []), process.execPath, binPath, ...args];
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env: cleanEnv(opts.env), uid: opts.uid, gid: opts.gid, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({ code: signal ? null : code, stdout: Buffer.concat(out).toString('utf8'), stderr: signal ? `${stderr}\n[killed by ${signal}]` : stderr });
    });
    // EPIPE when the CLI exits without reading stdin is expected; the exit code tells the story.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Temp directories of one test file; `removeAll()` in afterAll. */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(prefix = 'hornets-cli-'): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  removeAll(): void {
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

/** A project bound to one directory: `run(...)` executes the CLI there. */
export class Project {
  constructor(
    readonly dir: string,
    readonly env: Record<string, string | undefined> = {},
    /** Every command runs under this (see CliOptions.wrap). */
    readonly wrap?: string[],
  ) {}

  run(args: string[], opts: { input?: string | Buffer; env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
    return runCli(args, { cwd: this.dir, input: opts.input, env: { ...this.env, ...opts.env }, wrap: this.wrap });
  }

  /** Runs and fails with the full output when the exit code is not 0. */
  async ok(args: string[], opts: { input?: string | Buffer; env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
    const r = await this.run(args, opts);
    if (r.code !== 0) throw new Error(`hornets-tui ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  }

  /** `send` that must succeed; returns the new message id. */
  async send(agent: string, text: string, ...flags: string[]): Promise<string> {
    const r = await this.ok(['send', agent, ...flags, '--json', '--', text]);
    return (JSON.parse(r.stdout) as { id: string }).id;
  }

  get stateDir(): string {
    return this.env.HORNETS_HOME ?? path.join(this.dir, '.hornets');
  }

  get dbPath(): string {
    return path.join(this.stateDir, 'hornets.db');
  }

  /** What must survive a failed command untouched: the export (pending messages) and every message in every state. */
  async snapshot(): Promise<{ exported: string; all: unknown[] }> {
    const [exp, list] = await Promise.all([this.ok(['queue', 'export']), this.ok(['queue', 'list', '--all', '--json', '--limit', '100000'])]);
    return { exported: exp.stdout, all: JSON.parse(list.stdout) as unknown[] };
  }
}

/** `hornets-tui init` in a fresh temp dir. */
export async function newProject(temp: TempDirs, agents = 'marie,anga,fabien', env: Record<string, string | undefined> = {}): Promise<Project> {
  const p = new Project(temp.make(), env);
  await p.ok(['init', '--agents', agents]);
  return p;
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The first line of stderr without the "hornets-tui: " prefix, for exact comparisons. */
export function firstErrorLine(r: CliResult): string {
  return (r.stderr.split('\n')[0] ?? '').replace(/^hornets-tui: /, '');
}

/** `queue import` lines (hornets.message.v1) for `n` messages of about `bodyBytes` each, ids `<prefix>00000…`. */
export function importLines(n: number, options: { prefix: string; agents: string[]; bodyBytes: number }): string {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      format: 'hornets.message.v1',
      id: `${options.prefix}${String(i).padStart(5, '0')}`,
      agent: options.agents[i % options.agents.length],
      priority: 5,
      body: `message ${i} ${'x'.repeat(options.bodyBytes)}`,
      sender: 'test',
      key: null,
      attempts: 0,
      maxAttempts: 5,
      redeliveries: 0,
      createdAt: 1_700_000_000_000 + i,
      expiresAt: null,
      meta: null,
    }),
  );
  return `${lines.join('\n')}\n`;
}
