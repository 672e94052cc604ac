/**
 * Issue 11, item 14: `queue list --json | head` printed an EPIPE stack trace. A reader that goes
 * away is not a failure: the CLI leaves quietly with its exit code so far.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { binPath, cleanEnv, importLines, newProject, TempDirs } from '../helpers/cli.js';

const temp = new TempDirs();
afterAll(() => temp.removeAll());

describe('a closed pipe', () => {
  it('queue list and export piped into `head`: no stack trace, exit 0', async () => {
    const p = await newProject(temp, 'marie');
    // Far more than a pipe holds (64 KiB), so the CLI is still writing when head leaves.
    const file = path.join(p.dir, 'many.jsonl');
    writeFileSync(file, importLines(600, { prefix: 'pipe', agents: ['marie'], bodyBytes: 500 }));
    await p.ok(['queue', 'import', file]);
    for (const args of [
      ['queue', 'list', '--json', '--limit', '1000'],
      ['queue', 'list', '--limit', '1000'],
      ['queue', 'export'],
    ]) {
      // The command line is fixed; the CLI and its arguments travel as positional parameters.
      const r = spawnSync('bash', ['-c', '"$@" 2>"$ERR" | head -c 100 >/dev/null; echo "${PIPESTATUS[0]}"', 'bash', process.execPath, binPath, ...args], {
        cwd: p.dir,
        env: { ...cleanEnv(), ERR: path.join(p.dir, 'stderr.txt') },
        encoding: 'utf8',
      });
      expect(r.stdout.trim(), args.join(' ')).toBe('0');
      expect(readFileSync(path.join(p.dir, 'stderr.txt'), 'utf8'), args.join(' ')).toBe('');
    }
  }, 60_000);
});
