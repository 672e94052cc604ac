/**
 * Codex agents that share one CODEX_HOME (the default ~/.codex, or one set for several) share one
 * hooks.json: uninstalling one agent keeps the hooks the others still use; uninstalling all of them
 * gives the user's files back byte for byte.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, TempDirs, assertBuilt, sha256 } from '../helpers/cli.js';
import { initGitRepo } from '../helpers/tmux.js';

const temp = new TempDirs();
beforeAll(() => assertBuilt());
afterEach(() => temp.removeAll());

interface Report {
  agent: string;
  result: { changed: boolean } | null;
  note: string | null;
}

describe('codex hooks shared through one CODEX_HOME', () => {
  it('uninstalling one agent keeps them for the other; uninstalling both restores the user’s files', async () => {
    const dir = temp.make('hornets-codex-share-');
    initGitRepo(dir);
    const home = temp.make('hornets-codex-home-');
    writeFileSync(path.join(home, 'config.toml'), 'model = "mine"\n');
    writeFileSync(path.join(home, 'hooks.json'), `${JSON.stringify({ hooks: { Stop: [{ hooks: [{ type: 'command', command: 'echo mine' }] }] } }, null, 2)}\n`);
    const before = [sha256(path.join(home, 'config.toml')), sha256(path.join(home, 'hooks.json'))];
    const p = new Project(dir, { CODEX_HOME: home, TMUX: undefined, TMUX_PANE: undefined });
    await p.ok(['init', '--agents', 'ada,bob']);
    const configFile = path.join(dir, 'hornets.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { agents: { name: string; profile: string }[] };
    for (const a of config.agents) a.profile = 'codex';
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    for (const a of ['ada', 'bob']) mkdirSync(path.join(dir, '.hornets', 'worktrees', a), { recursive: true });

    await p.ok(['hooks', 'install', '--all']);
    const hooks = () => readFileSync(path.join(home, 'hooks.json'), 'utf8');
    expect(hooks()).toContain('# hornets-tui');

    const one = JSON.parse((await p.ok(['hooks', 'uninstall', 'ada', '--json'])).stdout) as Report[];
    expect(one).toEqual([expect.objectContaining({ agent: 'ada', result: null })]);
    expect(one[0]!.note).toBe(`kept: its hooks in ${home} are shared with bob (uninstall those too, or --all)`);
    expect(hooks()).toContain('# hornets-tui');

    const both = JSON.parse((await p.ok(['hooks', 'uninstall', 'ada', 'bob', '--json'])).stdout) as Report[];
    expect(both.map((r) => r.agent)).toEqual(['ada', 'bob']);
    expect(both.some((r) => r.result?.changed)).toBe(true);
    expect([sha256(path.join(home, 'config.toml')), sha256(path.join(home, 'hooks.json'))]).toEqual(before);
  }, 60_000);
});
