/** Agent env files no pane took (an `up` cut short) are removed by the next `up`; live ones stay. */
import { closeSync, existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { STALE_ENV_FILE_MS, sweepStaleEnvFiles } from '../../src/services/env-files.js';
import { createExclusiveTemp } from '../../src/util/private-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('sweepStaleEnvFiles', () => {
  it('removes env files older than the limit, keeps fresh ones and anything that is not an env file', () => {
    const run = mkdtempSync(join(tmpdir(), 'hornets-env-files-'));
    dirs.push(run);
    const made = (age: number) => {
      const { path, fd } = createExclusiveTemp(join(run, 'agent-env'), 0o600);
      closeSync(fd);
      const t = (Date.now() - age) / 1000;
      utimesSync(path, t, t);
      return path;
    };
    const old = made(STALE_ENV_FILE_MS + 60_000);
    const fresh = made(5_000);
    const other = join(run, 'daemon.pid');
    writeFileSync(other, '1\n');
    utimesSync(other, 0, 0);
    expect(sweepStaleEnvFiles(run, Date.now())).toEqual([old.split('/').pop()]);
    expect([existsSync(old), existsSync(fresh), existsSync(other)]).toEqual([false, true, true]);
    expect(sweepStaleEnvFiles(join(run, 'missing'), Date.now())).toEqual([]);
  });
});
