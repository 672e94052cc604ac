/** `npm run deploy:render`: writes deploy/k8s and deploy/helm/hornets from scripts/deploy/k8s-objects.ts; a test keeps them in sync. */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../src/config/paths.js';
import { renderAll } from './k8s-render.js';
import { readNodeContract } from './node-contract.js';

const root = packageRoot();
const deploy = join(root, 'deploy');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const files = renderAll(readNodeContract(root), version);
// Generated folders only: a file dropped from the generator must not linger.
for (const dir of ['k8s', 'helm/hornets']) rmSync(join(deploy, dir), { recursive: true, force: true });
for (const file of files) {
  const path = join(deploy, file.path);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, file.text);
}
process.stdout.write(`wrote ${files.length} files under ${deploy}/k8s and ${deploy}/helm/hornets\n`);
