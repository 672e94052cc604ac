import { renameSync, writeFileSync, copyFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { parseWith, readJson } from './json-file.js';
import { hornetsConfigSchema } from './schema.js';

/**
 * Edits hornets.json as JSON (keeping the user's keys, not the defaults we fill in), validates the
 * result before writing, writes atomically and keeps the previous file as hornets.json.bak.
 */
export function updateConfigFile(configPath: string, mutate: (raw: Record<string, unknown>) => void): void {
  const raw = readJson(configPath);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(configPath, [{ path: '', message: 'expected a JSON object' }]);
  const next = structuredClone(raw) as Record<string, unknown>;
  mutate(next);
  parseWith(hornetsConfigSchema, next, configPath);
  const tmp = `${configPath}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`);
  copyFileSync(configPath, `${configPath}.bak`);
  renameSync(tmp, configPath);
}
