/**
 * The layer rules live in eslint.config.js (see ARCHITECTURE.md); `npm run lint` enforces them on
 * the tree. This only proves the rules still catch what they are meant to: a glob or pattern that
 * stops matching would otherwise pass silently. Type information is not needed for these rules.
 */
import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const eslint = new ESLint({ cwd: root, overrideConfig: tseslint.configs.disableTypeChecked as ESLint.Options['overrideConfig'] });

const imports = '@typescript-eslint/no-restricted-imports';
const env = 'no-restricted-properties';
const tmux = 'no-restricted-syntax';

// [file (need not exist), code, the layer rule that must fire, or null when it must not]
const table: [string, string, string | null][] = [
  // domain: pure
  ['src/domain/probe.ts', "import { x } from './agent.js';", null],
  ['src/domain/probe.ts', "import { UsageError } from '../errors.js';", null],
  ['src/domain/probe.ts', "import { readFileSync } from 'node:fs';", imports],
  ['src/domain/probe.ts', "import { randomUUID } from 'node:crypto';", imports],
  ['src/domain/probe.ts', "import { z } from 'zod';", imports],
  ['src/domain/probe.ts', "import type { Logger } from '../log.js';", imports],
  ['src/domain/probe.ts', "import type { Project } from '../config/load.js';", imports],
  // console: services, domain, tui, shared leaves; config types only
  ['src/tui/probe.ts', "import { AgentManager } from '../services/agents.js';", null],
  ['src/tui/probe.ts', "import type { AgentState } from '../domain/agent.js';", null],
  ['src/tui/probe.ts', "import { errorMessage } from '../errors.js';", null],
  ['src/tui/probe.ts', "import type { Project } from '../config/load.js';", null],
  ['src/tui/probe.ts', "import { loadProject } from '../config/load.js';", imports],
  ['src/tui/probe.ts', "import { TmuxClient } from '../tmux/client.js';", imports],
  ['src/tui/views/probe.ts', "import type { PaneInfo } from '../../tmux/argv.js';", imports],
  ['src/tui/probe.ts', "import { Git } from '../git/git.js';", imports],
  ['src/tui/probe.ts', "import type { MessageStore } from '../queue/store.js';", imports],
  ['src/tui/probe.ts', "import { pokeDaemon } from '../daemon/notify.js';", imports],
  ['src/tui/view-model.ts', "import type { TeamSnapshot } from '../services/snapshot.js';", null],
  ['src/tui/view-model.ts', "import { AgentManager } from '../services/agents.js';", imports],
  ['src/tui/view-model.ts', "import blessed from 'blessed';", imports],
  ['src/tui/view-model.ts', "import { readFileSync } from 'node:fs';", imports],
  ['src/tui/view-model.ts', "import { TmuxClient } from '../tmux/client.js';", imports],
  // SQLite only in the queue adapter
  ['src/queue/sqlite/probe.ts', "import Database from 'better-sqlite3';", null],
  ['src/services/probe.ts', "import Database from 'better-sqlite3';", imports],
  ['src/daemon/probe.ts', "import Database from 'better-sqlite3';", imports],
  ['test/unit/probe.test.ts', "import Database from 'better-sqlite3';", null],
  // ioredis: only the Redis adapters (store, cluster coordination)
  ['src/queue/redis/probe.ts', "import { Redis } from 'ioredis';", null],
  ['src/cluster/probe.ts', "import { Redis } from 'ioredis';", null],
  ['src/services/probe.ts', "import { Redis } from 'ioredis';", imports],
  ['src/daemon/probe.ts', "import { Redis } from 'ioredis';", imports],
  ['src/tui/probe.ts', "import { Redis } from 'ioredis';", imports],
  ['src/cluster/probe.ts', "import { AgentManager } from '../services/agents.js';", imports],
  ['src/tui/probe.ts', "import { ClusterBus } from '../cluster/bus.js';", imports],
  // processes only from src/tmux, src/proc and the demo agent
  ['src/tmux/probe.ts', "import { spawn } from 'node:child_process';", null],
  ['src/proc/probe.ts', "import { execFile } from 'node:child_process';", null],
  ['src/demo-agent/probe.ts', "import { spawn } from 'node:child_process';", null],
  ['src/services/probe.ts', "import { spawn } from 'node:child_process';", imports],
  ['src/daemon/probe.ts', "import { spawn } from 'child_process';", imports],
  ['src/git/probe.ts', "import { execa } from 'execa';", imports],
  ['scripts/probe.ts', "import { spawnSync } from 'node:child_process';", null],
  // only src/tmux runs tmux
  ['src/services/probe.ts', "import { runProgram } from '../proc/run.js';\nvoid runProgram('tmux', ['ls']);", tmux],
  ['src/tmux/probe.ts', "import { spawn } from 'node:child_process';\nspawn('tmux', ['ls']);", null],
  // dependencies point inwards: adapters do not import services/daemon/console; services not the daemon
  ['src/queue/probe.ts', "import { AgentManager } from '../services/agents.js';", imports],
  ['src/tmux/probe.ts', "import { Daemon } from '../daemon/daemon.js';", imports],
  ['src/services/probe.ts', "import { pokeDaemon } from '../daemon/notify.js';", imports],
  ['src/services/probe.ts', "import { TmuxClient } from '../tmux/client.js';", null],
  ['src/config/probe.ts', "import { decide } from '../recovery/restart-policy.js';", imports],
  ['src/config/probe.ts', "import { parseDuration } from '../domain/duration.js';", null],
  ['src/log.ts', "import { logLevelFromEnv } from './config/process-env.js';", imports],
  ['src/util/probe.ts', "import { AgentState } from '../domain/agent.js';", imports],
  ['src/util/probe.ts', "import { HornetsError } from '../errors.js';", null],
  // process.env only in config and entry points
  ['src/services/probe.ts', 'export const home = process.env.HOME;', env],
  ['src/services/probe.ts', 'const { env } = process;\nexport const home = env.HOME;', env],
  ['src/config/probe.ts', 'export const home = process.env.HOME;', null],
  ['src/cli.ts', 'export const home = process.env.HOME;', null],
  ['src/hooks/entry.ts', 'export const home = process.env.HOME;', null],
  ['test/unit/probe.test.ts', 'export const home = process.env.HOME;', null],
];

describe('lint layer rules', () => {
  it.each(table)('%s: %s -> %s', async (filePath, code, rule) => {
    const [result] = await eslint.lintText(`${code}\n`, { filePath: resolve(root, filePath) });
    expect(result!.messages.filter((m) => m.fatal).map((m) => m.message)).toEqual([]);
    const fired = result!.messages.map((m) => m.ruleId).filter((r) => r === imports || r === env || r === tmux);
    if (rule === null) expect(fired).toEqual([]);
    else expect(fired).toContain(rule);
  });
});
