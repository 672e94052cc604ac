// Runs vitest, then prints the plain "N passed, N failed" closing line from its JSON report so CI
// logs end with a count; exits non-zero if vitest failed or ran no test.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const report = '.vitest-results.json';
rmSync(report, { force: true });
const vitest = createRequire(import.meta.url).resolve('vitest/vitest.mjs');
const args = ['run', '--reporter=default', '--reporter=json', `--outputFile=${report}`, ...process.argv.slice(2)];
const run = spawnSync(process.execPath, [vitest, ...args], { stdio: 'inherit' });
let code = run.status ?? 1;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  rmSync(report, { force: true });
  const skipped = r.numPendingTests + r.numTodoTests;
  process.stdout.write(`\ntests: ${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  if (r.numTotalTests === 0) code = 1;
} else {
  process.stdout.write('\ntests: no report written (vitest did not finish)\n');
  code = code || 1;
}
process.exit(code);
