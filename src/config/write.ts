import { copyFileSync, statSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { parseWith, readJson } from './json-file.js';
import { hornetsConfigSchema } from './schema.js';
import { writeFileAtomicSync } from '../util/private-files.js';

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
  copyFileSync(configPath, `${configPath}.bak`);
  // The file's own mode, but never writable by group or others (it names programs to run).
  writeFileAtomicSync(configPath, `${JSON.stringify(next, null, 2)}\n`, statSync(configPath).mode & 0o755);
}
