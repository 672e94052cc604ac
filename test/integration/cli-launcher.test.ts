/**
 * bin/hornets-tui.js runs the bundled CLI (dist/cli.cjs) with a V8 code cache beside it
 * (dist/cli.cjs.cache). The cache is only an optimisation: whatever state it is in, the command must
 * work and say the same. Each test uses its own copy of the launcher and the bundle (the package's
 * other parts are linked), so the repository's dist/ is never touched while other tests use it.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TempDirs, cleanEnv, repoRoot } from '../helpers/cli.js';

const temp = new TempDirs();
const bundle = path.join(repoRoot, 'dist', 'cli.cjs');

beforeAll(() => {
  if (!existsSync(bundle)) throw new Error('dist/cli.cjs is missing: run `npm run build` before these tests');
});
afterAll(() => temp.removeAll());

/** A package directory with its own bin/ and dist/cli.cjs; profiles, node_modules and dist/src are links. */
function packageCopy(): { root: string; bin: string; cache: string } {
  const root = temp.make('hornets-launcher-');
  mkdirSync(path.join(root, 'bin'));
  mkdirSync(path.join(root, 'dist'));
  for (const f of ['hornets-tui.js', 'hornets-tui.cjs', 'code-cache.cjs']) copyFileSync(path.join(repoRoot, 'bin', f), path.join(root, 'bin', f));
  copyFileSync(path.join(repoRoot, 'package.json'), path.join(root, 'package.json'));
  copyFileSync(bundle, path.join(root, 'dist', 'cli.cjs'));
  for (const link of ['profiles', 'node_modules', path.join('dist', 'src')]) symlinkSync(path.join(repoRoot, link), path.join(root, link));
  return { root, bin: path.join(root, 'bin', 'hornets-tui.js'), cache: path.join(root, 'dist', 'cli.cjs.cache') };
}

function run(bin: string, args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

/** The cache's header (see bin/hornets-tui.js): MAGIC, u32 length, JSON. */
function cacheHeader(file: string): { key: string; learned: string[]; bytes: number; stamp: number; dataOffset: number } {
  const buf = readFileSync(file);
  expect(buf.toString('latin1', 0, 4)).toBe('HTC1');
  const length = buf.readUInt32LE(4);
  return { ...(JSON.parse(buf.toString('utf8', 8, 8 + length)) as { key: string; learned: string[]; bytes: number; stamp: number }), dataOffset: 8 + length };
}

describe.concurrent('the CLI launcher and its code cache', () => {
  it('writes the cache after a command, learns each command once, and answers the same from the cache', async () => {
    const pkg = packageCopy();
    const project = temp.make();
    const init = await run(pkg.bin, ['init', '--agents', 'marie', '--json'], project);
    expect(init.code).toBe(0);
    expect(cacheHeader(pkg.cache).learned).toEqual(['init']);
    const first = await run(pkg.bin, ['queue', 'list', '--json'], project);
    expect(cacheHeader(pkg.cache).learned).toEqual(['init', 'queue']);
    const again = await run(pkg.bin, ['queue', 'list', '--json'], project);
    expect(again).toEqual(first);
    expect(cacheHeader(pkg.cache).learned).toEqual(['init', 'queue']);
  });

  it('a damaged cache (right header, flipped bytes) is ignored and rewritten: no V8 crash', async () => {
    const pkg = packageCopy();
    const project = temp.make();
    expect((await run(pkg.bin, ['init', '--agents', 'marie'], project)).code).toBe(0);
    const good = await run(pkg.bin, ['config', 'validate', '--json'], project);
    expect(good.code).toBe(0);
    const buf = readFileSync(pkg.cache);
    const { dataOffset } = cacheHeader(pkg.cache);
    for (let i = dataOffset + 2000; i < buf.length - 1000; i += 997) buf[i]! ^= 0x5a;
    writeFileSync(pkg.cache, buf);
    const r = await run(pkg.bin, ['config', 'validate', '--json'], project);
    expect(r).toEqual(good);
    // Rewritten whole: its length and its stamp (the file's modification time) match again.
    const header = cacheHeader(pkg.cache);
    expect(readFileSync(pkg.cache).length - header.dataOffset).toBe(header.bytes);
    expect(Math.floor(statSync(pkg.cache).mtimeMs / 1000)).toBe(header.stamp);
  });

  it('a truncated, foreign or garbage cache is ignored', async () => {
    const pkg = packageCopy();
    const project = temp.make();
    expect((await run(pkg.bin, ['init', '--agents', 'marie'], project)).code).toBe(0);
    const good = await run(pkg.bin, ['queue', 'list', '--json'], project);
    const valid = readFileSync(pkg.cache);
    const header = cacheHeader(pkg.cache);
    const foreign = Buffer.from(valid);
    // Same length, another key (what a rebuilt bundle looks like).
    const text = JSON.stringify({ ...header, dataOffset: undefined, key: header.key.replace(/\d/, (d) => String((Number(d) + 1) % 10)) });
    foreign.write(text.padEnd(header.dataOffset - 8), 8, 'utf8');
    for (const damaged of [valid.subarray(0, valid.length - 100), foreign, Buffer.from('not a cache at all')]) {
      writeFileSync(pkg.cache, damaged);
      expect(await run(pkg.bin, ['queue', 'list', '--json'], project)).toEqual(good);
    }
  });

  it('--version is answered without the bundle; without the bundle the compiled modules run', async () => {
    const pkg = packageCopy();
    const project = temp.make();
    const version = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
    rmSync(path.join(pkg.root, 'dist', 'cli.cjs'));
    expect(await run(pkg.bin, ['--version'], project)).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    const r = await run(pkg.bin, ['init', '--agents', 'marie', '--json'], project);
    expect(r.code).toBe(0);
    expect(existsSync(pkg.cache)).toBe(false);
  });
});
