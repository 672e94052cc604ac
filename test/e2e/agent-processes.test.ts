/**
 * The real agent CLIs (Gemini CLI, Codex, Claude Code's native binary; pinned in
 * scripts/agent-clis.json) leave nothing running when hornets ends their generation (issue 13):
 * each agent is asked by its scripted API to run a command that leaves a daemon behind (as a build
 * does), then it is restarted, brought down, and its tmux server is killed
 * followed by `down`. After each, no process of the ended generation may remain: processes are
 * found by the agent's markers in /proc/<pid>/environ (test/helpers/agent-procs.ts), given a bounded
 * time to go.
 *
 * Needs `npm run build`, tmux and the pinned CLIs. Outside CI, HORNETS_SKIP_<CLI>_E2E=1 skips a CLI.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, it, vi } from 'vitest';
import { assertBuilt } from '../helpers/cli.js';
import { requireAgentCli, skipAgentCliSuite } from '../helpers/agent-clis.js';
import { agentProcesses, describeProcesses, killAgentProcesses, waitForNone } from '../helpers/agent-procs.js';
import { tmux, waitFor } from '../helpers/tmux.js';
import { GeminiE2E, hasToolOutput as geminiToolOutput, newText as geminiText } from '../helpers/gemini-e2e.js';
import { CodexE2E, hasToolOutput as codexToolOutput, newText as codexText } from '../helpers/codex-e2e.js';
import { ClaudeE2E, claudeBin, hasToolResult as claudeToolResult, newText as claudeText } from '../helpers/claude-e2e.js';

// Before the helpers load (vi.hoisted runs first): the Claude Code harness takes its binary from it.
vi.hoisted(() => {
  process.env.HORNETS_E2E_CLAUDE_CLI = 'claude-native';
});

const TEST_TIMEOUT = 240_000;
/**
 * What the agent's command leaves running: a daemon in a session of its own, as builds start them
 * (Gradle, Bazel, sccache). Each CLI ends its tool command's process group; nothing ends this but
 * hornets.
 */
// The pause: the CLI ends the command's group as soon as it returns, maybe before the daemon's
// fork has left the group.
const DAEMON = 'setsid -f tail -f /dev/null >/dev/null 2>&1; sleep 1';
const ASK = 'please start the daemon';

/** What the test needs of an end-to-end harness (GeminiE2E, CodexE2E, ClaudeE2E). */
interface Harness {
  readonly root: string;
  readonly socket: string;
  readonly cli: { ok(args: string[]): Promise<unknown> };
  paneId: string;
  up(): Promise<string>;
  prompt(text: string): Promise<unknown>;
  waitForPrompt(): Promise<void>;
  cleanup(): Promise<void>;
}

interface Cli {
  name: string;
  agent: string;
  start(): Promise<Harness>;
}

const clis: Cli[] = [
  {
    name: 'gemini',
    agent: 'gm',
    start: () => GeminiE2E.create((req) => (geminiText(req).includes(ASK) && !geminiToolOutput(req) ? { shell: DAEMON } : { text: 'done' })),
  },
  {
    name: 'codex',
    agent: 'cx',
    start: async () => {
      const e = await CodexE2E.create((req) => (codexText(req).includes(ASK) && !codexToolOutput(req) ? { exec: { cmd: DAEMON } } : { text: 'done' }));
      // Without its sandbox, as users who let the agent run servers set it: inside it, a command's
      // own PID namespace ends whatever the command left in the background.
      writeFileSync(e.configToml, `sandbox_mode = "danger-full-access"\n${readFileSync(e.configToml, 'utf8')}`);
      return e;
    },
  },
  {
    name: 'claude-native',
    agent: 'cc',
    start: () => {
      if (!claudeBin.includes('claude-native@')) throw new Error(`the Claude Code harness drives ${claudeBin}, not the native binary`);
      return ClaudeE2E.create(
        (req) => (claudeText(req).includes(ASK) && !claudeToolResult(req) ? { toolUse: { name: 'Bash', input: { command: DAEMON, description: 'start the daemon' } } } : { text: 'done' }),
        { committedSettings: { permissions: { defaultMode: 'acceptEdits', allow: ['Bash(setsid:*)', 'Bash(sleep:*)'] } } },
      );
    },
  },
];

let env: Harness | null = null;

afterEach(async () => {
  if (!env) return;
  const home = path.join(env.root, '.hornets');
  await env.cleanup();
  killAgentProcesses(home);
  env = null;
});

/** Has the agent start the daemon, answering its permission prompt when it asks. */
async function startDaemon(e: Harness, home: string, agent: string): Promise<void> {
  await e.prompt(ASK);
  const job = () => agentProcesses(home, agent).some((p) => p.cmd.startsWith('tail -f /dev/null'));
  await waitFor(
    'the daemon to run',
    () => {
      if (job()) return true;
      const screen = tmux(e.socket, ['capture-pane', '-p', '-t', e.paneId]).stdout;
      // "Allow once" / "Yes, proceed" / "Yes" is the first, selected choice of each CLI's prompt.
      if (/Allow execution|Would you like to run|Do you want to proceed|Enter to stay in auto mode/.test(screen)) tmux(e.socket, ['send-keys', '-t', e.paneId, 'Enter']);
      return null;
    },
    60_000,
    500,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nagent processes:\n${describeProcesses(agentProcesses(home))}\nscreen:\n${tmux(e.socket, ['capture-pane', '-p', '-t', e.paneId]).stdout}`);
  });
  await e.waitForPrompt();
}

for (const cli of clis) {
  describe.skipIf(skipAgentCliSuite(cli.name))(`real ${cli.name}: ending a generation ends all of its processes`, () => {
    beforeAll(() => {
      assertBuilt();
      requireAgentCli(cli.name);
    });

    it(
      'restart, down, and a killed tmux server followed by down leave no process of the ended generation',
      async () => {
        const e = (env = await cli.start());
        const home = path.join(e.root, '.hornets');
        const ofGen = (gen: number) => () => agentProcesses(home, cli.agent).filter((p) => p.generation === gen);

        await e.up();
        await startDaemon(e, home, cli.agent);
        await e.cli.ok(['restart', cli.agent]);
        await waitForNone(`generation 1 of ${cli.name} to end after restart`, ofGen(1));
        await e.waitForPrompt();

        await startDaemon(e, home, cli.agent);
        await e.cli.ok(['down']);
        await waitForNone(`every process of ${cli.name} to end after down`, () => agentProcesses(home));

        await e.up();
        await startDaemon(e, home, cli.agent);
        tmux(e.socket, ['kill-server']);
        await e.cli.ok(['down']);
        await waitForNone(`every process of ${cli.name} to end after kill-server and down`, () => agentProcesses(home));
      },
      TEST_TIMEOUT,
    );
  });
}
