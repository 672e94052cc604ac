/**
 * The CLI's lean entry, bundled on its own as dist/cli-hot.cjs: `send`, `queue list` and `status`,
 * the commands users and scripts run most, answered without loading commander, zod or any other
 * command's modules. bin/hornets-tui.js tries it first for those command words; it handles only
 * the plain command lines of cli/hot-argv.ts with a project whose configuration is in the
 * validated-config cache (config/project-cache.ts), and otherwise returns false before doing
 * anything, and the full CLI (src/cli.ts) runs instead: same messages, same exit codes.
 */
import { ExitCode } from './errors.js';
import { readCachedProject } from './config/project-cache.js';
import { debugFromEnv } from './config/process-env.js';
import { openProjectContext } from './services/project-context.js';
import { createLineLogger, silentLineLogger } from './log-lines.js';
import { parseHotArgv } from './cli/hot-argv.js';
import { applyDotEnv } from './config/dotenv.js';
import { listCommand, sendCommand, statusCommand, type OpenProject } from './cli/hot-commands.js';
import { stdio, type Output } from './cli/output.js';
import { reportError } from './cli/report-error.js';

/** Entry point used by bin/hornets-tui.js. True: handled (process.exitCode set); false: run the full CLI. */
export async function runHot(argv: string[], o: Output = stdio): Promise<boolean> {
  const inv = parseHotArgv(argv.slice(2));
  if (!inv) return false;
  // As src/cli.ts: the project's .env first (the full CLI, if it runs instead, finds it applied).
  applyDotEnv(argv.slice(2));
  const project = readCachedProject({ configPath: inv.config });
  if (!project) return false;
  const open: OpenProject = (component) => openProjectContext(project, component, { create: createLineLogger, silent: silentLineLogger });
  // As src/cli.ts: a command that finishes but reports a failure sets process.exitCode itself.
  process.exitCode = undefined;
  let code: number = ExitCode.ok;
  try {
    if (inv.command === 'send') await sendCommand(o, open, inv.agent, inv.words, inv.options);
    else if (inv.command === 'list') await listCommand(o, open, inv.agent, inv.options);
    else await statusCommand(o, open, inv.options);
    const set = Number(process.exitCode ?? ExitCode.ok);
    if (set !== ExitCode.ok) code = set;
  } catch (err) {
    code = reportError(err, o, debugFromEnv());
  }
  process.exitCode = code;
  return true;
}
