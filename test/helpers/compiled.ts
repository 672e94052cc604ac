/** Worker processes run compiled JavaScript from dist/; `npm run build` (part of `npm test`) makes it. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { cleanEnv } from './cli.js';

const root = path.resolve(__dirname, '../..');

/** dist/ path of a compiled file given its source path relative to the repo, e.g. `test/helpers/workers/x.ts`. */
export function compiledPath(sourceRel: string): string {
  const js = path.join(root, 'dist', sourceRel.replace(/\.ts$/, '.js'));
  if (!existsSync(js)) throw new Error(`${path.relative(root, js)} is missing: run \`npm run build\` before these tests`);
  return js;
}

/**
 * Runs a compiled script (e.g. a benchmark with `--smoke`) to its end in a clean environment,
 * without blocking the test worker (a minutes-long spawnSync starves vitest's messages to it).
 * Killed after `timeoutMs`.
 */
export function runCompiled(sourceRel: string, args: string[], timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [compiledPath(sourceRel), ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
