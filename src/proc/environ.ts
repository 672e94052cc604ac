/** What a running process was started with, where /proc tells (Linux). */
import { readFileSync } from 'node:fs';

/** The named variables from /proc/<pid>/environ; null when it cannot be read (gone, not ours, no /proc). */
export function processEnvironment(pid: number, names: readonly string[]): Record<string, string> | null {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return null;
  }
  const out: Record<string, string> = {};
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (names.includes(name)) out[name] = entry.slice(eq + 1);
  }
  return out;
}
