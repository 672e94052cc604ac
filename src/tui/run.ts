/** Entry point of the console (`hornets-tui` with no command), called by the composition root. */
import { UsageError, errorMessage } from '../errors.js';
import { openProject } from '../services/context.js';
import { localNodeContext } from '../services/project-context.js';
import { openNodeFeed, type NodeFeed } from '../services/node-feed.js';
import { buildKeymap } from './keymap.js';
import { Console, refreshMs } from './console.js';

export interface RunConsoleOptions {
  configPath?: string;
  /** Do not start the engine and the team when no engine runs (attach to state only). */
  noEngine?: boolean;
  /** HORNETS_TUI_BENCH: where the console writes key-to-frame timings for `npm run bench:tui`. */
  benchFile?: string;
  /** NO_COLOR set (https://no-color.org): the entry point reads the environment, not the console. */
  noColor?: boolean;
}

export async function runConsole(options: RunConsoleOptions = {}): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError('the console needs a terminal (stdin and stdout must be a TTY); run `hornets-tui --headless` for the engine without it, or see `hornets-tui --help`');
  }
  // A Redis team's console runs this node's agents (see services/project-context.ts) and shows
  // every node's, with the nodes' health from the registry (one connection for its life).
  const team = await openProject({ configPath: options.configPath, component: 'console' });
  const ctx = localNodeContext(team);
  let nodes: NodeFeed | null = null;
  try {
    nodes = await openNodeFeed(team);
  } catch (err) {
    await team.close();
    throw err;
  }
  let console_: Console | null = null;
  // From here on the console owns the terminal: nothing may print a stack trace over it.
  const onError = (err: unknown) => {
    ctx.log.error({ event: 'console_uncaught', error: errorMessage(err), stack: err instanceof Error ? err.stack : undefined }, 'unexpected error in the console');
  };
  const onSignal = () => console_?.quit();
  try {
    const keymap = buildKeymap(ctx.project.config.console?.keys, ctx.project.configPath);
    console_ = new Console({
      ctx,
      view: { team, nodes },
      keymap,
      startEngine: !options.noEngine,
      theme: ctx.project.config.console?.theme ?? 'auto',
      noColor: options.noColor,
      refreshMs: refreshMs(ctx),
      benchFile: options.benchFile,
    });
    process.on('uncaughtException', onError);
    process.on('unhandledRejection', onError);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    await console_.run();
  } finally {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    await nodes?.close().catch(() => undefined);
    await ctx.close();
  }
}
