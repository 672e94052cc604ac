/**
 * The lean entry (dist/cli-hot.cjs, src/cli-hot.ts) and the validated-config cache
 * (.hornets/run/config-cache.json, src/config/project-cache.ts), with the real CLI process.
 * `send`, `queue list` and `status` must answer exactly as the full CLI does; the cache must never
 * hide a change: a changed, broken or deleted file gets the error it gets without a cache.
 *
 * Whether the lean entry answered is read from its code cache: the launcher writes
 * dist/cli-hot.cjs.cache only after the lean entry handled a command. Each test uses its own copy
 * of the launcher and both bundles (as cli-launcher.test.ts does), so the repository's dist/ is
 * never touched while other tests use it.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TempDirs, cleanEnv, repoRoot } from '../helpers/cli.js';
import { killServer, randomSocket, serverAlive, tmux, tmuxOk, waitFor } from '../helpers/tmux.js';

const temp = new TempDirs();
const sockets: string[] = [];

beforeAll(() => {
  for (const f of ['cli.cjs', 'cli-hot.cjs']) if (!existsSync(path.join(repoRoot, 'dist', f))) throw new Error(`dist/${f} is missing: run \`npm run build\` before these tests`);
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => killServer(s)));
  temp.removeAll();
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A package copy with its own bin/ and both bundles, and a project made by `init` in it. */
async function setup(): Promise<{
  run: (args: string[], nodeArgs?: string[]) => Promise<Result>;
  lean: (args: string[]) => Promise<Result & { lean: boolean }>;
  project: string;
  cacheFile: string;
  socket: string;
}> {
  const root = temp.make('hornets-hot-');
  mkdirSync(path.join(root, 'bin'));
  mkdirSync(path.join(root, 'dist'));
  for (const f of ['hornets-tui.js', 'hornets-tui.cjs', 'code-cache.cjs']) copyFileSync(path.join(repoRoot, 'bin', f), path.join(root, 'bin', f));
  copyFileSync(path.join(repoRoot, 'package.json'), path.join(root, 'package.json'));
  for (const f of ['cli.cjs', 'cli-hot.cjs']) copyFileSync(path.join(repoRoot, 'dist', f), path.join(root, 'dist', f));
  for (const link of ['profiles', 'node_modules', path.join('dist', 'src')]) symlinkSync(path.join(repoRoot, link), path.join(root, link));
  // package.json's bin (the launcher itself); cli-launcher.test.ts runs it through bin/hornets-tui.js.
  const bin = path.join(root, 'bin', 'hornets-tui.cjs');
  const hotCache = path.join(root, 'dist', 'cli-hot.cjs.cache');
  const project = temp.make('hornets-hot-project-');
  const socket = randomSocket();
  sockets.push(socket);
  const run = (args: string[], nodeArgs: string[] = []): Promise<Result> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...nodeArgs, bin, ...args], { cwd: project, env: cleanEnv({ HORNETS_TMUX_SOCKET: socket }), stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    });
  /** Runs and says whether the lean entry answered (it wrote its code cache, removed just before). */
  const lean = async (args: string[]) => {
    rmSync(hotCache, { force: true });
    const r = await run(args);
    return { ...r, lean: existsSync(hotCache) };
  };
  const init = await run(['init', '--agents', 'marie,anga']);
  expect(init.code).toBe(0);
  return { run, lean, project, socket, cacheFile: path.join(project, '.hornets', 'run', 'config-cache.json') };
}

/** A log line without what differs between two runs. */
function logShape(line: string): Record<string, unknown> {
  const v = JSON.parse(line) as Record<string, unknown>;
  expect(typeof v.time).toBe('string');
  return { ...v, time: 'T', pid: 'P', id: 'I' };
}

const withoutId = (stdout: string): unknown => ({ ...(JSON.parse(stdout) as Record<string, unknown>), id: 'I' });

describe.concurrent('the lean entry and the validated-config cache', () => {
  it('answers send, queue list and status once the config is cached, exactly as the full CLI does', async () => {
    const { lean, run, cacheFile } = await setup();
    // No cache yet: the full CLI answers, validates, and records the config.
    const first = await lean(['queue', 'list', '--json']);
    expect(first).toMatchObject({ code: 0, lean: false });
    expect(existsSync(cacheFile)).toBe(true);
    const again = await lean(['queue', 'list', '--json']);
    expect(again).toEqual({ ...first, lean: true });

    // Commander takes `-p5`; the lean entry leaves it to the full CLI: the same command both ways.
    const sentLean = await lean(['send', 'marie', 'hello', 'there', '--json']);
    const sentFull = await lean(['send', 'marie', 'hello', 'there', '--json', '-p5']);
    expect(sentLean.lean).toBe(true);
    expect(sentFull.lean).toBe(false);
    expect(sentLean.code).toBe(0);
    expect(withoutId(sentLean.stdout)).toEqual({ ...(withoutId(sentFull.stdout) as object), ahead: 0 });
    const text = await lean(['send', 'anga', 'plain']);
    expect(text.lean).toBe(true);
    expect(text.stdout).toMatch(/^queued \w+ for anga \(priority 5, next in line\)\n$/);
    const textFull = await lean(['send', 'anga', 'plain', '-p5']);
    expect({ ...textFull, lean: true, stdout: textFull.stdout.replace(/queued \w+/, 'queued X').replace('1 ahead', 'next in line') }).toEqual({
      ...text,
      stdout: text.stdout.replace(/queued \w+/, 'queued X'),
    });
    // The same log lines as pino writes (fields, order, levels), only time, pid and id differ.
    const log = readFileSync(path.join(path.dirname(path.dirname(cacheFile)), 'logs', 'hornets.log'), 'utf8')
      .trim()
      .split('\n');
    const sends = log.filter((l) => l.includes('"event":"send"'));
    expect(sends).toHaveLength(4);
    expect(logShape(sends[0]!)).toEqual({ ...logShape(sends[1]!), created: true });

    // Errors: the same words and exit codes.
    for (const [hot, full] of [
      [
        ['send', 'nobody', 'hi'],
        ['send', 'nobody', 'hi', '-p5'],
      ],
      [
        ['queue', 'list', '-s', 'bogus'],
        ['queue', 'list', '-sbogus'],
      ],
      [
        ['queue', 'list', '-n', '0'],
        ['queue', 'list', '-n0'],
      ],
      [
        ['send', 'marie', 'hi', '-p', 'huge'],
        ['send', 'marie', 'hi', '-phuge'],
      ],
      [['status'], ['status', '-chornets.json']],
      [
        ['status', '--json'],
        ['status', '--json', '-chornets.json'],
      ],
    ]) {
      const a = await lean(hot!);
      const b = await lean(full!);
      expect({ args: hot, lean: a.lean }).toEqual({ args: hot, lean: true });
      expect({ args: hot, lean: b.lean }).toEqual({ args: hot, lean: false });
      expect({ args: hot, ...a, lean: undefined }).toEqual({ args: hot, ...b, lean: undefined });
    }
    expect((await run(['queue', 'list', '-n', '0'])).code).toBe(2);
  });

  it('with an engine running, the lean send pokes it (a socket write, not waited for) and reports it running', async () => {
    const { lean, run } = await setup();
    expect((await lean(['queue', 'list'])).code).toBe(0);
    expect((await run(['daemon', 'start'])).code).toBe(0);
    try {
      const sent = await lean(['send', 'marie', 'hello', '--json']);
      expect(sent).toMatchObject({ code: 0, lean: true, stderr: '' });
      expect(JSON.parse(sent.stdout)).toMatchObject({ created: true, engineRunning: true, waitsForEngine: false });
      expect(await lean(['status'])).toMatchObject({ code: 0, lean: true, stderr: '' });
    } finally {
      expect((await run(['daemon', 'stop'])).code).toBe(0);
    }
  });

  it('status and send load neither node:crypto nor node:http, and status with no tmux server (never started, or killed) starts no tmux', async () => {
    const { lean, run, project, socket } = await setup();
    expect((await lean(['queue', 'list'])).code).toBe(0);
    // Preloaded into the CLI process: at exit, the built-in modules it loaded and the processes it started.
    const probed = async (args: string[]) => {
      const out = path.join(project, `probe-${args[0]}.json`);
      const probe = path.join(project, `probe-${args[0]}.cjs`);
      writeFileSync(
        probe,
        `const cp = require('node:child_process'); const spawned = [];
         const orig = cp.ChildProcess.prototype.spawn;
         cp.ChildProcess.prototype.spawn = function (o) { spawned.push(o.file); return orig.call(this, o); };
         process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ modules: process.moduleLoadList, spawned })));`,
      );
      const r = await run(args, ['-r', probe]);
      expect(r).toMatchObject({ code: 0 });
      return JSON.parse(readFileSync(out, 'utf8')) as { modules: string[]; spawned: string[] };
    };
    for (const args of [['status'], ['send', 'marie', 'hi'], ['queue', 'list']]) {
      const { modules, spawned } = await probed(args);
      expect({ args, heavy: modules.filter((m) => /^NativeModule (crypto|http|_http_\w+)$/.test(m)) }).toEqual({ args, heavy: [] });
      expect({ args, spawned }).toEqual({ args, spawned: [] });
    }
    // A live server is asked (tmux list-panes); once it is killed, the socket file it leaves behind
    // (tmux 3.3) answers no connection, and status asks no tmux again.
    tmuxOk(socket, ['new-session', '-d', '-s', 'other', 'sleep 600']);
    try {
      expect((await probed(['status'])).spawned.length).toBeGreaterThan(0);
    } finally {
      tmux(socket, ['kill-server']);
    }
    await waitFor('the server gone', () => !serverAlive(socket));
    const after = await probed(['status']);
    expect(after.spawned).toEqual([]);
    expect((await run(['status'])).stdout).toMatch(/^AGENT .*\nmarie .* stopped /);
  });

  it('a changed hornets.json is seen at once, even at the same size and mtime second', async () => {
    const { lean, project } = await setup();
    expect((await lean(['queue', 'list'])).code).toBe(0);
    const file = path.join(project, 'hornets.json');
    const before = readFileSync(file, 'utf8');
    expect(before).toContain('"priority": 5');
    writeFileSync(file, before.replace('"priority": 5', '"priority": 7'));
    const changed = await lean(['send', 'marie', 'hi', '--json']);
    expect(changed).toMatchObject({ code: 0, lean: false });
    expect((JSON.parse(changed.stdout) as { priority: number }).priority).toBe(7);
    // Recorded again: the next command is the lean entry's, with the new value.
    const next = await lean(['send', 'marie', 'hi', '--json']);
    expect(next).toMatchObject({ code: 0, lean: true });
    expect((JSON.parse(next.stdout) as { priority: number }).priority).toBe(7);
  });

  it('a broken hornets.json gets the same error as with no cache', async () => {
    const { lean, project, cacheFile } = await setup();
    expect((await lean(['queue', 'list'])).code).toBe(0);
    const file = path.join(project, 'hornets.json');
    const good = readFileSync(file, 'utf8');
    for (const [broken, words] of [
      [good.replace('"agents"', '"agents" "'), /not valid JSON at line \d+, column \d+/],
      [good.replace('"priority": 5', '"priority": 500'), /defaults\.priority: /],
      [good.replace('"marie"', '"Marie"'), /agents\[0\]\.name: invalid agent name/],
    ] as const) {
      writeFileSync(file, broken);
      const r = await lean(['send', 'marie', 'hi']);
      expect(r).toMatchObject({ code: 1, lean: false, stdout: '' });
      expect(r.stderr).toContain(`hornets-tui: invalid ${file}:`);
      expect(r.stderr).toMatch(words);
      // Exactly what a run with no cache at all says.
      rmSync(cacheFile, { force: true });
      expect(await lean(['send', 'marie', 'hi'])).toEqual(r);
      writeFileSync(file, good);
      expect((await lean(['queue', 'list'])).code).toBe(0);
      expect((await lean(['queue', 'list'])).lean).toBe(true);
    }
  });

  it('a deleted project profile or briefing is an error again, not a cached success', async () => {
    const { lean, project } = await setup();
    const file = path.join(project, 'hornets.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as { profilesDir?: string; agents: Array<{ name: string; profile: string }> };
    mkdirSync(path.join(project, 'my-profiles'));
    const demo = JSON.parse(readFileSync(path.join(repoRoot, 'profiles', 'demo.json'), 'utf8')) as { name: string };
    const profile = path.join(project, 'my-profiles', 'mine.json');
    writeFileSync(profile, JSON.stringify({ ...demo, name: 'mine' }));
    config.profilesDir = 'my-profiles';
    config.agents[1]!.profile = 'mine';
    writeFileSync(file, JSON.stringify(config, null, 2));
    expect((await lean(['queue', 'list'])).code).toBe(0);
    expect(await lean(['status', '--json'])).toMatchObject({ code: 0, lean: true });

    unlinkSync(profile);
    const gone = await lean(['send', 'anga', 'hi']);
    expect(gone).toMatchObject({ code: 1, lean: false });
    expect(gone.stderr).toContain('agents[1].profile: unknown profile "mine"');

    // The same bytes as validated before: the recorded config is right again.
    writeFileSync(profile, JSON.stringify({ ...demo, name: 'mine' }));
    expect(await lean(['send', 'anga', 'hi'])).toMatchObject({ code: 0, lean: true });
    // A profile edited to something invalid: the schema's error, naming the file.
    writeFileSync(profile, JSON.stringify({ ...demo, name: 'mine', delivery: 'carrier-pigeon' }));
    const invalid = await lean(['send', 'anga', 'hi']);
    expect(invalid).toMatchObject({ code: 1, lean: false });
    expect(invalid.stderr).toContain(`invalid ${profile}:`);
    writeFileSync(profile, JSON.stringify({ ...demo, name: 'mine' }));

    const briefing = path.join(project, 'briefings', 'marie.md');
    expect(existsSync(briefing)).toBe(true);
    expect((await lean(['queue', 'list'])).code).toBe(0);
    expect((await lean(['queue', 'list'])).lean).toBe(true);
    unlinkSync(briefing);
    const noBriefing = await lean(['queue', 'list']);
    expect(noBriefing).toMatchObject({ code: 1, lean: false });
    expect(noBriefing.stderr).toContain(`briefing file not found: ${briefing}`);
  });

  it('a cache that is garbage, half written or from another build is ignored and written again', async () => {
    const { lean, cacheFile } = await setup();
    const good = await lean(['queue', 'list', '--json']);
    expect(good.code).toBe(0);
    const valid = readFileSync(cacheFile, 'utf8');
    const doc = JSON.parse(valid) as { build: string; config: { agents: unknown[] } };
    for (const bad of [
      'garbage',
      valid.slice(0, valid.length / 2),
      JSON.stringify({ ...doc, build: `${doc.build}x` }),
      JSON.stringify({ ...doc, format: 0 }),
      JSON.stringify({ ...doc, config: { ...doc.config, agents: 'marie' } }),
      '{}',
      'null',
    ]) {
      writeFileSync(cacheFile, bad);
      expect(await lean(['queue', 'list', '--json'])).toEqual({ ...good, lean: false });
      expect(readFileSync(cacheFile, 'utf8')).toBe(valid);
      expect(await lean(['queue', 'list', '--json'])).toEqual({ ...good, lean: true });
    }
  });
});
