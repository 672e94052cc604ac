/** Keeps the dependency rules of DESIGN.md §1 true as the code grows. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const srcRoot = resolve(__dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const sources = files(srcRoot).map((path) => {
  const text = readFileSync(path, 'utf8');
  const imports = [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)].map((m) => (m[1] ?? m[2])!);
  return { path, rel: relative(srcRoot, path), imports };
});

function importers(pred: (spec: string) => boolean): string[] {
  return sources.filter((s) => s.imports.some(pred)).map((s) => s.rel);
}

describe('architecture', () => {
  it('only src/queue/ imports better-sqlite3', () => {
    // Guards the import scanner itself: the SQLite store must be found.
    expect(importers((i) => i === 'better-sqlite3')).toContain('queue/sqlite/sqlite-store.ts');
    expect(importers((i) => i === 'better-sqlite3').filter((f) => !f.startsWith('queue/'))).toEqual([]);
  });

  it('only src/tmux/ (tmux) and src/proc/ (every other program) start processes', () => {
    const spawners = importers((i) => /^(node:)?child_process$|^execa$|^node-pty$/.test(i));
    expect(spawners).toContain('tmux/runner.ts');
    expect(spawners).toContain('proc/run.ts');
    // The demo agent is a separate program (a stand-in for Claude Code that runs its own hooks),
    // not part of hornets' layers.
    expect(spawners.filter((f) => !/^(tmux|proc|demo-agent)\//.test(f))).toEqual([]);
  });

  it('only src/tmux/ runs tmux', () => {
    const runsTmux = sources.filter((s) => !s.rel.startsWith('tmux/') && /(spawn|runProgram|execFile)\(\s*['"]tmux['"]/.test(readFileSync(s.path, 'utf8')));
    expect(runsTmux.map((s) => s.rel)).toEqual([]);
  });

  it('src/domain/ is pure: no I/O modules', () => {
    const io = /^(node:)?(fs|fs\/promises|child_process|net|http|https|os|dgram)$|better-sqlite3|pino/;
    expect(sources.filter((s) => s.rel.startsWith('domain/') && s.imports.some((i) => io.test(i))).map((s) => s.rel)).toEqual([]);
  });

  it('has no import cycles', () => {
    const graph = new Map<string, string[]>();
    for (const s of sources) {
      graph.set(
        s.path,
        s.imports.filter((i) => i.startsWith('.')).map((i) => resolve(dirname(s.path), i.replace(/\.js$/, '.ts'))),
      );
    }
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (node: string, stack: string[]) => {
      if (state.get(node) === 'done') return;
      if (state.get(node) === 'visiting') {
        cycles.push([...stack.slice(stack.indexOf(node)), node].map((p) => relative(srcRoot, p)).join(' -> '));
        return;
      }
      state.set(node, 'visiting');
      for (const next of graph.get(node) ?? []) visit(next, [...stack, node]);
      state.set(node, 'done');
    };
    for (const node of graph.keys()) visit(node, []);
    expect(cycles).toEqual([]);
  });
});
