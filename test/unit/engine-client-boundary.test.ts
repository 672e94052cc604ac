/**
 * The engine's client side lives in src/engine-client, so the layers point one way: services and
 * the CLI talk to a running engine through it and never import the daemon (only the commands that
 * run a daemon in this process do), and the client imports neither the daemon nor the services.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricsEndpointFile as serverMetricsFile } from '../../src/daemon/metrics.js';
import { metricsEndpointFile } from '../../src/engine-client/paths.js';

const srcRoot = resolve(__dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const sources = files(srcRoot).map((path) => {
  const text = readFileSync(path, 'utf8');
  const imports = [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)].map((m) => resolve(join(path, '..'), (m[1] ?? m[2])!));
  return { rel: relative(srcRoot, path), imports: imports.filter((i) => i.startsWith(srcRoot)).map((i) => relative(srcRoot, i)) };
});

const importersOf = (dir: string, from: (rel: string) => boolean) => sources.filter((s) => from(s.rel) && s.imports.some((i) => i.startsWith(`${dir}/`))).map((s) => s.rel);

describe('engine-client boundary', () => {
  it('no service, console or CLI command imports the daemon, except those that run one here', () => {
    const allowed = new Set(['cli/daemon-commands.ts', 'cli/control-commands.ts']);
    expect(importersOf('daemon', (r) => r.startsWith('services/') || r.startsWith('tui/') || (r.startsWith('cli/') && !allowed.has(r)))).toEqual([]);
    // Guards the scanner: the run commands are found.
    expect(importersOf('daemon', (r) => r.startsWith('cli/'))).toContain('cli/daemon-commands.ts');
  });

  it('the engine client imports neither the daemon, the services nor the CLI', () => {
    const client = (r: string) => r.startsWith('engine-client/');
    expect([...importersOf('daemon', client), ...importersOf('services', client), ...importersOf('cli', client)]).toEqual([]);
    expect(importersOf('engine-client', (r) => r.startsWith('services/'))).not.toEqual([]);
  });

  it('server and client agree on where the metrics URL is published', () => {
    expect(metricsEndpointFile('/x/.hornets')).toBe(serverMetricsFile('/x/.hornets/run'));
  });
});
