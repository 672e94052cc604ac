import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyDotEnv, DOTENV_VARIABLES, parseDotEnv } from '../../src/config/dotenv.js';
import { envVariables } from '../../src/config/env.js';
import { seedVariables } from '../../src/config/seed-env.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function project(dotenv: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hornets-dotenv-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'hornets.json'), '{}');
  writeFileSync(path.join(dir, '.env'), dotenv);
  mkdirSync(path.join(dir, 'sub'));
  return dir;
}

describe("the project's .env (the seeds' settings file)", () => {
  it('parses KEY=value lines as shells and docker-compose write them', () => {
    expect([...parseDotEnv('# seed 003\nMAX_RETRIES=3\nexport LOG_LEVEL=debug\nRETRY_BACKOFF="2.0"\nTASK_DIR=\'/shared/tasks\'\nHEARTBEAT_INTERVAL=10  # seconds\n\nnot a line\n=x\n')]).toEqual([
      ['MAX_RETRIES', '3'],
      ['LOG_LEVEL', 'debug'],
      ['RETRY_BACKOFF', '2.0'],
      ['TASK_DIR', '/shared/tasks'],
      ['HEARTBEAT_INTERVAL', '10'],
    ]);
  });

  it('sets only what hornets reads and the environment lacks, for the project the command uses (found from a subdirectory or by --config)', () => {
    const dir = project('MAX_RETRIES=3\nREDIS_URL=redis://127.0.0.1:6390\nANTHROPIC_API_KEY=sk-secret\nHORNETS_NODE=n1\nLOG_LEVEL=debug\n');
    const env: NodeJS.ProcessEnv = { LOG_LEVEL: 'warn' };
    expect(applyDotEnv(['status'], env, path.join(dir, 'sub'))).toEqual(['MAX_RETRIES', 'REDIS_URL', 'HORNETS_NODE']);
    expect(env).toEqual({ LOG_LEVEL: 'warn', MAX_RETRIES: '3', REDIS_URL: 'redis://127.0.0.1:6390', HORNETS_NODE: 'n1' });
    const other: NodeJS.ProcessEnv = {};
    expect(applyDotEnv(['-c', path.join(dir, 'hornets.json'), 'status'], other, os.tmpdir())).toContain('MAX_RETRIES');
    expect(applyDotEnv(['status'], {}, os.tmpdir())).toEqual([]);
  });

  it('knows exactly the variables of the tables', () => {
    expect([...DOTENV_VARIABLES].sort()).toEqual(
      [...envVariables.map((v) => v.name), ...seedVariables.map((v) => v.name), 'REDIS_URL', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_CLUSTER_NODES'].sort(),
    );
  });
});
