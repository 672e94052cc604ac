/**
 * An agent's environment (API keys in hornets.json `env`) and its hook credential never travel in
 * argv (issue 11, item 12): /proc/<pid>/cmdline is readable by every local user, so `tmux … -e
 * KEY=value` showed them to anyone running `ps` while `up` or a restart ran. Every tmux argv of a
 * real `up` and restart is recorded (HORNETS_TMUX_BIN points at a wrapper that logs, then runs
 * tmux) and must hold neither; the agent must still see both, and its hooks work with them.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeTeams, startTeam, stateOf } from '../helpers/team.js';
import { tmuxOk, waitFor } from '../helpers/tmux.js';
import { findOnPath } from '../../src/proc/which.js';
import { agentCredential, readAgentKey } from '../../src/hooks/credentials.js';
import { repoRoot } from '../helpers/cli.js';

const secret = `sk-test-${randomBytes(12).toString('hex')}`;
/** Sourced by the pane's shell: quotes, expansions and newlines must arrive as they are, never run. */
const tricky = "it's $(echo ran) `echo ran` ${HOME} \\ \n second line; 'end'";
let logDir = '';
let argvLog = '';

beforeAll(() => {
  logDir = mkdtempSync(join(tmpdir(), 'hornets-argv-'));
  argvLog = join(logDir, 'tmux-argv.log');
  const wrapper = join(logDir, 'tmux');
  // NUL-separated arguments, one invocation after another: what /proc/<pid>/cmdline shows.
  writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\0' "$@" >> '${argvLog}'\nprintf '\\n' >> '${argvLog}'\nexec '${findOnPath('tmux', process.env.PATH)!}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  process.env.HORNETS_TMUX_BIN = wrapper;
});
afterEach(closeTeams);
afterAll(() => {
  delete process.env.HORNETS_TMUX_BIN;
  rmSync(logDir, { recursive: true, force: true });
});

function environOf(pid: number): Record<string, string> {
  return Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

/** Every process's argv this user can read now (what `ps` shows any local user). */
function allCmdlines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('agent environment and credential: never in argv', () => {
  it('up and a restart put neither the env value nor the credential in any tmux argv; the agent sees both and its hooks work', async () => {
    const t = await startTeam([{ name: 'marie', profile: 'demo', env: { HORNETS_TEST_SECRET: secret, HORNETS_TEST_TRICKY: tricky } }]);
    await waitFor('marie idle', async () => (await stateOf(t, 'marie')) === 'idle', 20_000);
    const panePid = async () => Number(tmuxOk(t.socket, ['display-message', '-p', '-t', (await t.ctx.store.getAgent('marie'))!.paneId!, '#{pane_pid}']).trim());
    const key = readAgentKey(t.ctx.project.paths.root)!;

    let env = environOf(await panePid());
    expect(env.HORNETS_TEST_SECRET).toBe(secret);
    expect(env.HORNETS_TEST_TRICKY).toBe(tricky);
    const gen1 = (await t.ctx.store.getAgent('marie'))!.generation;
    expect(env.HORNETS_HOOK_TOKEN).toBe(agentCredential(key, 'marie', gen1));

    await t.daemon.engine.agents.restartAgent('marie', { resume: false });
    const gen2 = (await t.ctx.store.getAgent('marie'))!.generation;
    expect(gen2).toBe(gen1 + 1);
    await waitFor('marie idle after the restart', async () => (await stateOf(t, 'marie')) === 'idle', 20_000);
    env = environOf(await panePid());
    expect(env.HORNETS_TEST_SECRET).toBe(secret);
    expect(env.HORNETS_HOOK_TOKEN).toBe(agentCredential(key, 'marie', gen2));
    // The new generation's credential works end to end: a message reaches the agent through its hooks.
    const { message } = await t.svc.send('marie', 'after the restart');
    await waitFor('delivered after the restart', async () => ['delivered', 'confirmed'].includes((await t.ctx.store.get(message.id)).state), 20_000);

    const calls = readFileSync(argvLog, 'utf8');
    expect(calls).toContain('new-window');
    expect(calls).toContain('respawn-pane');
    for (const value of [secret, env.HORNETS_HOOK_TOKEN!, env.HORNETS_HOOK_TOKEN!.split('.')[0]!]) {
      expect(calls.includes(value), 'a tmux argv holds a secret').toBe(false);
      expect(
        allCmdlines().some((c) => c.includes(value)),
        'a process argv holds a secret',
      ).toBe(false);
    }
    // The launcher removed each environment file before it started the agent.
    expect(readdirSync(t.ctx.project.paths.run).filter((f) => f.includes('agent-env'))).toEqual([]);
  }, 90_000);

  it("a profile's unsetEnv keeps those variables of hornets' environment from the agent (CI=true turns Gemini CLI headless); one the agent sets itself still arrives", async () => {
    const saved = { CI: process.env.CI, HORNETS_TEST_DROP: process.env.HORNETS_TEST_DROP };
    process.env.CI = 'true';
    process.env.HORNETS_TEST_DROP = 'dropped';
    try {
      const demo = JSON.parse(readFileSync(join(repoRoot, 'profiles', 'demo.json'), 'utf8')) as Record<string, unknown>;
      const t = await startTeam(
        [
          { name: 'ada', profile: 'democi', env: { HORNETS_TEST_DROP: 'own value' } },
          { name: 'bob', profile: 'democi' },
          { name: 'cy', profile: 'demo' },
        ],
        { profiles: { democi: { ...demo, $schema: undefined, unsetEnv: ['CI', 'HORNETS_TEST_DROP'] } } },
      );
      const envOf = async (name: string) => {
        await waitFor(`${name} idle`, async () => (await stateOf(t, name)) === 'idle', 20_000);
        return environOf(Number(tmuxOk(t.socket, ['display-message', '-p', '-t', (await t.ctx.store.getAgent(name))!.paneId!, '#{pane_pid}']).trim()));
      };
      const bob = await envOf('bob');
      expect(bob.CI).toBeUndefined();
      expect(bob.HORNETS_TEST_DROP).toBeUndefined();
      expect(bob.HORNETS_AGENT_ID).toBe('bob');
      expect((await envOf('ada')).HORNETS_TEST_DROP).toBe('own value');
      // Other profiles still inherit hornets' environment whole.
      const cy = await envOf('cy');
      expect(cy.CI).toBe('true');
      expect(cy.HORNETS_TEST_DROP).toBe('dropped');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }, 90_000);
});
