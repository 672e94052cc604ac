#!/usr/bin/env node
// Installs the pinned agent CLIs the end-to-end tests drive into .cache/agent-clis/<name>@<version>/,
// outside node_modules: they are hundreds of MB (Codex ships a native binary), and `npm ci` must
// stay fast. Idempotent: a folder whose marker file is present is left alone, so CI caches can keep
// .cache/ between runs. Usage: node scripts/install-agent-clis.mjs [name ...] (default: all).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const AGENT_CLIS = JSON.parse(readFileSync(path.join(root, 'scripts', 'agent-clis.json'), 'utf8')).clis;
const agentCliDir = (cli) => path.join(root, '.cache', 'agent-clis', `${cli.name}@${cli.version}`);
const wanted = process.argv.slice(2);
const unknown = wanted.filter((n) => !AGENT_CLIS.some((c) => c.name === n));
if (unknown.length > 0) {
  console.error(`unknown agent CLI: ${unknown.join(', ')} (known: ${AGENT_CLIS.map((c) => c.name).join(', ')})`);
  process.exit(2);
}

let failed = 0;
for (const cli of AGENT_CLIS.filter((c) => wanted.length === 0 || wanted.includes(c.name))) {
  const dir = agentCliDir(cli);
  const marker = path.join(dir, '.installed');
  if (existsSync(marker)) {
    console.log(`${cli.pkg}@${cli.version}: present in ${path.relative(root, dir)}`);
    continue;
  }
  // Into a temp folder first, renamed when complete: an interrupted install never looks present.
  const tmp = `${dir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  console.log(`${cli.pkg}@${cli.version}: installing into ${path.relative(root, dir)}`);
  const r = spawnSync('npm', ['install', '--prefix', tmp, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', `${cli.pkg}@${cli.version}`], {
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    console.error(`${cli.pkg}@${cli.version}: npm install failed (exit ${r.status ?? r.signal})`);
    failed++;
    continue;
  }
  writeFileSync(path.join(tmp, '.installed'), `${cli.pkg}@${cli.version}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}
process.exit(failed > 0 ? 1 : 0);
