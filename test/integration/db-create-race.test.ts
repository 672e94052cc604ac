/**
 * Several processes opening one database that does not exist yet (two `up` at once on a fresh
 * project, a CLI and the engine) all get it: none takes the half-created file for another
 * application's database. Real processes, real SQLite files.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, repoRoot } from '../helpers/cli.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
beforeAll(() => assertBuilt());

const store = path.join(repoRoot, 'dist', 'src', 'queue', 'sqlite', 'sqlite-store.js');
// Opens, registers an agent (a write after the migration), closes; prints what went wrong.
const program = `import(${JSON.stringify(store)}).then(async ({ openSqliteStore }) => {
  const s = await openSqliteStore(process.argv[1]);
  await s.registerAgents([{ name: 'a' + process.pid, profile: 'demo' }]);
  await s.close();
}).catch((e) => { console.error(String(e && e.message || e)); process.exit(1); });`;

function opener(db: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', program, db], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('a database created by several processes at once', () => {
  it('every one of six processes opening a fresh file gets the same hornets database (ten rounds)', async () => {
    for (let round = 0; round < 10; round++) {
      const dir = mkdtempSync(path.join(tmpdir(), 'hornets-db-race-'));
      dirs.push(dir);
      const db = path.join(dir, 'hornets.db');
      const results = await Promise.all(Array.from({ length: 6 }, () => opener(db)));
      expect(
        results.filter((r) => r.code !== 0).map((r) => r.stderr.trim()),
        `round ${round}`,
      ).toEqual([]);
    }
  }, 120_000);
});
