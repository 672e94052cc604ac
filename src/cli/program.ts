/**
 * The command tree (commander). Every action loads its command module when it runs: a one-shot
 * command must not pay for the console (blessed), the daemon, or modules of the other commands.
 */
import { readFileSync, existsSync, statSync, openSync, readSync, closeSync, watch, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { stdio, json, table, type Output } from './output.js';
import type { GlobalOptions, SendCliOptions } from './queue-commands.js';
import { cliVersion } from './version.js';
import { setProcessNode } from '../config/nodes.js';

export { CommanderError } from 'commander';

// Loaders: an action imports its module only when it runs (see the header).
const queueCommands = () => import('./queue-commands.js');
const agentCommands = () => import('./agent-commands.js');
const hooksCommands = () => import('./hooks-commands.js');
const controlCommands = () => import('./control-commands.js');
const daemonCommands = () => import('./daemon-commands.js');
const doctor = () => import('./doctor.js');
const migrateCommands = () => import('./migrate-commands.js');
const taskCommands = () => import('./task-commands.js');
const eventsCommands = () => import('./events-commands.js');
const configLoad = () => import('../config/load.js');

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

function tailFile(o: Output, file: string, lines: number, follow: boolean): Promise<void> {
  if (!existsSync(file)) {
    o.err(`no log file yet at ${file}`);
    return Promise.resolve();
  }
  const text = readFileSync(file, 'utf8');
  const all = text.split('\n').filter(Boolean);
  for (const l of all.slice(-lines)) o.out(l);
  if (!follow) return Promise.resolve();
  let offset = statSync(file).size;
  return new Promise(() => {
    watch(file, () => {
      const size = statSync(file).size;
      if (size <= offset) {
        offset = size;
        return;
      }
      const fd = openSync(file, 'r');
      const buf = Buffer.alloc(size - offset);
      readSync(fd, buf, 0, buf.length, offset);
      closeSync(fd);
      offset = size;
      process.stdout.write(buf);
    });
  });
}

/** What the console takes from the environment; read by the entry point (src/cli.ts), the one allowed to. */
export interface ConsoleEnv {
  benchFile?: string;
  noColor: boolean;
}

export function buildProgram(o: Output = stdio, consoleEnv: ConsoleEnv = { noColor: false }): Command {
  const program = new Command('hornets-tui')
    .description('tmux-native orchestrator for teams of AI coding agents; with no command it opens the console (starting the engine and the team if none runs)')
    .version(cliVersion(), '-V, --version')
    .option('-c, --config <file>', 'hornets.json to use (default: found by walking up from the current directory; env HORNETS_CONFIG)')
    .option('--node <name>', 'the node this process acts as when the queue is in Redis: it starts and watches only the agents hornets.json puts on it (env HORNETS_NODE; default: the host name)')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) })
    .exitOverride()
    // Through the environment so the engine `up` or `daemon start` launches acts as the same node.
    .hook('preAction', async (_root, action) => {
      const node = (action.optsWithGlobals() as { node?: string }).node;
      if (node !== undefined) setProcessNode(node);
      // `send proj:0 …`: a legacy session:window id where an agent name goes (only args with a colon).
      if (action.processedArgs.some((a: unknown) => (typeof a === 'string' && a.includes(':')) || Array.isArray(a))) {
        await (await import('./agent-args.js')).resolveAgentArgs(action, globals(action).config);
      }
    });

  program
    .command('init')
    .description('write a starter hornets.json (a demo team by default) and create the .hornets/ state dir')
    .option('--dir <dir>', 'project directory', '.')
    .option('--project <name>', 'project name (default: the directory name)')
    .option('--agents <names>', 'comma-separated agent names', 'marie,anga,fabien')
    .option('--profile <profile>', 'profile for every agent', 'demo')
    .option('--force', 'overwrite an existing hornets.json')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { dir: string; project?: string; agents: string; profile: string; force?: boolean; json?: boolean }) => {
      const { initProject } = await import('./init.js');
      const r = initProject({
        dir: opts.dir,
        project: opts.project,
        agents: opts.agents
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        profile: opts.profile,
        force: opts.force,
      });
      if (opts.json) return json(o, r);
      o.out(`wrote ${r.configPath}`);
      for (const c of r.created.slice(1)) o.out(`created ${c}`);
      o.out('next: hornets-tui send marie "hello"   then   hornets-tui queue list');
    });

  program
    .command('send')
    .description('queue a message for an agent ("-" reads the text from stdin)')
    .argument('<agent>', 'agent name from hornets.json')
    .argument('[text...]', 'message text, or - for stdin')
    .option('-p, --priority <n>', '0–200 or low|normal|high|critical|emergency (default from hornets.json)')
    .option('-k, --key <key>', 'idempotency key: a second send with the same key is a no-op')
    .option('-t, --ttl <duration>', 'drop the message if not delivered within this time (30s, 5m, 2h, 1d)')
    .option('--from <sender>', 'who sends it (shown to the agent)')
    .option('--now', "type it into the agent's pane right away if the agent is idle (otherwise it stays queued)")
    .option('--json', 'print the result as JSON')
    .action(async (agent: string, words: string[], opts: SendCliOptions & { now?: boolean }, cmd: Command) => {
      const id = await (await queueCommands()).sendCommand(o, globals(cmd), agent, words, opts);
      if (opts.now) await (await agentCommands()).pushNowCommand(o, globals(cmd), agent, id, opts.json);
    });

  program
    .command('up')
    .description('start the private tmux server, one window per agent, and the engine in the background (safe to re-run: reconciles)')
    .argument('[agents...]', 'only these agents')
    .option('--no-engine', 'do not start the engine: messages to idle agents then wait until one runs (`hornets-tui daemon start`)')
    .option('--json', 'print the report as JSON')
    // `--no-engine` is also a program option (the console's): whichever parser took it, honour it.
    .action(async (names: string[], opts: { json?: boolean; engine?: boolean }, cmd: Command) =>
      (await agentCommands()).upCommand(o, globals(cmd), names, { ...opts, engine: opts.engine !== false && (globals(cmd) as { engine?: boolean }).engine !== false }),
    );
  program
    .command('status')
    .description('every agent: pane, process, alive/dead with exit status, state, queue depth')
    .option('--json', 'print JSON')
    .action(async (opts, cmd: Command) => (await agentCommands()).statusCommand(o, globals(cmd), opts));
  program
    .command('events')
    .description("the engine's events: state changes, deliveries, confirmations, restarts, needs-you (history from the event log; --follow streams)")
    .option('--follow', 'keep streaming new events from the running engine')
    .option('--json', 'one JSON object per line')
    .option('--agent <agent>', 'only this agent')
    .option('--since <time>', 'from this time on: ISO time, or a duration back from now (10m, 2h)')
    .option('--limit <n>', 'without --since: the last n events (default 100)')
    .action(async (opts, cmd: Command) => (await eventsCommands()).eventsCommand(o, globals(cmd), opts));
  program
    .command('wait')
    .description('wait until an agent is idle, needs input, is in a state, or confirmed a message: exit 0 reached, 1 timeout, 2 usage error, 3 no engine')
    .argument('<agent>')
    .option('--for <what>', 'idle | needs-input | confirmed:<message id> | state:<state>')
    .option('--timeout <duration>', 'give up after this long (30s, 5m); default: wait for good')
    .action(async (agent: string, opts, cmd: Command) => (await eventsCommands()).waitCommand(o, globals(cmd), agent, opts));
  program
    .command('attach')
    .description("put your terminal in an agent's pane (detach with prefix d returns here)")
    .argument('<agent>')
    .action(async (name: string, _opts, cmd: Command) => (await agentCommands()).attachCommand(globals(cmd), name));
  program
    .command('stop')
    .description('stop agents (SIGTERM, then kill after the timeout); queue and worktree are kept')
    .argument('<agents...>')
    .option('--timeout <seconds>', 'grace period before the pane is killed', '5')
    .option('--json', 'print JSON')
    .action(async (names: string[], opts, cmd: Command) => (await agentCommands()).stopCommand(o, globals(cmd), names, opts));
  program
    .command('down')
    .description('stop every agent and the tmux server; the queue is kept')
    .option('--remove-worktrees', 'also remove the agent worktrees hornets created')
    .option('--timeout <seconds>', 'grace period per agent', '5')
    .option('--json', 'print JSON')
    .action(async (opts, cmd: Command) => (await agentCommands()).downCommand(o, globals(cmd), opts));
  program
    .command('add')
    .description('add an agent to hornets.json and start it')
    .argument('<agent>')
    .requiredOption('--profile <profile>', 'profile to run')
    .option('--role <text>', 'role text for its briefing')
    .option('--worktree <dir>', 'run in this existing directory instead of a new worktree')
    .option('--no-start', 'only add it to hornets.json')
    .option('--json', 'print JSON')
    .action(async (name: string, opts, cmd: Command) => (await agentCommands()).addCommand(o, globals(cmd), name, opts));
  program
    .command('remove')
    .description('stop an agent and remove it from hornets.json (its queue and worktree are kept)')
    .argument('<agent>')
    .option('--json', 'print JSON')
    .action(async (name: string, opts, cmd: Command) => (await agentCommands()).removeCommand(o, globals(cmd), name, opts));

  const hooks = program.command('hooks').description("install hornets' hooks into agents' worktrees (.claude/settings.local.json; .codex/hooks.json with its trust entries in CODEX_HOME/config.toml)");
  hooks
    .command('install')
    .description('merge our hooks in (your own hooks and settings stay; idempotent; backup of your file)')
    .argument('[agents...]', 'these agents (default: all)')
    .option('--all', 'every agent')
    .option('--json', 'print JSON')
    .action(async (names: string[], opts, cmd: Command) => (await hooksCommands()).hooksInstallCommand(o, globals(cmd), names, opts));
  hooks
    .command('uninstall')
    .description('remove our hooks and restore your file')
    .argument('[agents...]', 'these agents (default: all)')
    .option('--all', 'every agent')
    .option('--json', 'print JSON')
    .action(async (names: string[], opts, cmd: Command) => (await hooksCommands()).hooksUninstallCommand(o, globals(cmd), names, opts));
  hooks
    .command('verify')
    .description('what is installed, stale or missing, and whether the installed claude supports each event (exit 1 if anything is off)')
    .argument('[agents...]', 'these agents (default: all)')
    .option('--all', 'every agent')
    .option('--json', 'print JSON')
    .action(async (names: string[], opts, cmd: Command) => (await hooksCommands()).hooksVerifyCommand(o, globals(cmd), names, opts));

  for (const [action, text] of [
    ['pause', 'stop all delivery to an agent (nothing is lost; messages wait)'],
    ['resume', 'resume delivery to a paused agent'],
    ['restart', 'restart an agent now (resuming its session) and reset its breaker'],
    ['reset', 'close an open breaker so crash recovery may restart the agent again'],
    ['rebrief', 'queue a rebrief (rules, current task, recent activity, git state) at priority 200'],
  ] as const) {
    program
      .command(action)
      .description(text)
      .argument('<agent>')
      .option('--json', 'print JSON')
      .action(async (agent: string, opts, cmd: Command) => (await controlCommands()).controlCommand(o, globals(cmd), action, agent, opts));
  }
  program
    .command('history')
    .description('restart history and life-cycle events of an agent')
    .argument('<agent>')
    .option('-n, --limit <n>', 'last n events', '50')
    .option('--all', 'every recorded agent event, hooks included')
    .option('--json', 'print JSON')
    .action(async (agent: string, opts, cmd: Command) => (await controlCommands()).historyCommand(o, globals(cmd), agent, opts));

  const daemon = program
    .command('daemon')
    .description('the engine process: hook fast path, idle-agent delivery (nudges), crash recovery and rebriefs, task/trigger/pipe watchers, heartbeats and metrics');
  daemon
    .command('run')
    .description('run the daemon in the foreground')
    .action(async (_opts, cmd: Command) => (await daemonCommands()).daemonRunCommand(o, globals(cmd)));
  daemon
    .command('start')
    .description('start the daemon in the background')
    .option('--json', 'print JSON')
    .action(async (opts, cmd: Command) => (await daemonCommands()).daemonStartCommand(o, globals(cmd), opts));
  daemon
    .command('stop')
    .description('stop the daemon (agents keep running)')
    .option('--json', 'print JSON')
    .action(async (opts, cmd: Command) => (await daemonCommands()).daemonStopCommand(o, globals(cmd), opts));
  daemon
    .command('status')
    .description('is the daemon running, and where: pid, hook endpoint port, metrics URL (exit 3 when not)')
    .option('--json', 'print JSON')
    .action(async (opts, cmd: Command) => (await daemonCommands()).daemonStatusCommand(o, globals(cmd), opts));

  program
    .command('doctor')
    .description('check tmux, git, node, agent CLIs, hooks, the engine, metrics, the database, file modes and free disk; each problem with the command that fixes it (exit 1 if any)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => (await doctor()).doctorCommand(o, globals(cmd), opts));

  const internal = new Command('internal').description('entry points for tmux hooks');
  internal
    .command('pane-died')
    .argument('<pane>')
    .argument('[status]')
    .action(async (pane: string, status: string | undefined) => (await agentCommands()).paneDiedCommand(pane, status ?? ''));
  program.addCommand(internal, { hidden: true });
  program
    .command('demo-agent', { hidden: true })
    .description('the scripted demo agent (run by the demo profile)')
    .option('--resume <session>', 'resume a session id')
    .action(async (opts: { resume?: string }) => {
      const { runDemoAgent } = await import('../demo-agent/agent.js');
      await runDemoAgent({ resume: opts.resume });
      await new Promise(() => undefined);
    });

  program
    .command('demo-oneshot', { hidden: true })
    .description('the demo one-shot CLI (run by the demo-oneshot profile, like `claude -p --output-format json`)')
    .option('-p, --print [prompt]', 'the task prompt (read from standard input when not given, as `claude -p` does)')
    .option('--output-format <format>', 'accepted for compatibility; always json')
    .action(async (opts: { print?: string | true }) => {
      const { demoOneShotMain, readAllStdin } = await import('../demo-agent/oneshot.js');
      await demoOneShotMain(typeof opts.print === 'string' ? opts.print : await readAllStdin());
    });
  program
    .command('task-run', { hidden: true })
    .description("one run of a worker's task (what its tmux window runs)")
    .argument('<dir>', 'the run directory with spec.json')
    .action(async (dir: string) => {
      const [{ runTask }, { launchEnv }] = await Promise.all([import('../proc/task-run.js'), import('../config/process-env.js')]);
      await runTask(dir, launchEnv());
      process.exit(0);
    });

  const tasks = program.command('tasks').description("task workers' tasks (hornets.json `workers`): list with state, watch, cancel, retry");
  const listOptions = (c: Command) =>
    c
      .option('-w, --worker <worker>', 'only this worker')
      .option('-s, --state <states>', 'comma-separated states (queued, running, retrying, completed, failed, cancelled); default: all but completed and cancelled')
      .option('-a, --all', 'every state')
      .option('-n, --limit <n>', 'at most this many (the newest)', '200')
      .option('--json', 'print JSON');
  listOptions(tasks.command('list', { isDefault: true }).alias('ls').description("tasks with their state, and each worker's runs, queue and breaker")).action(async (opts, cmd: Command) =>
    (await taskCommands()).tasksListCommand(o, globals(cmd), opts),
  );
  listOptions(tasks.command('watch').description('the list, redrawn every second'))
    .option('-i, --interval <seconds>', 'redraw period', '1')
    .action(async (opts, cmd: Command) => (await taskCommands()).tasksWatchCommand(o, globals(cmd), opts));
  tasks
    .command('cancel')
    .description('cancel open tasks; a running run is stopped (its process group killed) within a second')
    .argument('<ids...>')
    .option('--reason <text>', 'recorded as the reason')
    .option('--json', 'print JSON')
    .action(async (ids: string[], opts, cmd: Command) => (await taskCommands()).tasksCancelCommand(o, globals(cmd), ids, opts));
  tasks
    .command('retry')
    .description('queue failed or cancelled tasks again, with a fresh retry budget')
    .argument('<ids...>')
    .option('--json', 'print JSON')
    .action(async (ids: string[], opts, cmd: Command) => (await taskCommands()).tasksRetryCommand(o, globals(cmd), ids, opts));
  program
    .command('task')
    .description('queue a task for a worker')
    .command('add')
    .description('write a task file into .hornets/tasks/<worker>/ (the engine runs it once, in its own window); prints the task id')
    .argument('<worker>')
    .argument('<description...>')
    .option('--id <task_id>', 'task id (default: a generated one)')
    .option('--from <agent>', 'agent that gets the result summary as a message')
    .option('--metadata <json>', 'a JSON object kept with the task and given to the run')
    .option('--priority <n>', 'higher runs first')
    .option('--timeout <duration>', "time limit of one run (default: the worker's)")
    .option('--max-retries <n>', "retries after a failed run (default: the worker's)")
    .option('--worktree <dir>', 'directory the run works in')
    .action(async (worker: string, words: string[], opts, cmd: Command) => (await taskCommands()).taskAddCommand(o, globals(cmd), worker, words, opts));

  const queue = program.command('queue').description('inspect and manage the message queue');
  queue
    .command('list')
    .alias('ls')
    .description('messages in delivery order (pending ones by default)')
    .argument('[agent]', 'only this agent')
    .option('-s, --state <states>', 'comma-separated states (pending, queued, leased, delivered, confirmed, failed, dead, expired, cancelled)')
    .option('-a, --all', 'every state')
    .option('-n, --limit <n>', 'at most this many', '200')
    .option('--json', 'print JSON')
    .action(async (agent: string | undefined, opts, cmd: Command) => (await queueCommands()).listCommand(o, globals(cmd), agent, opts));
  queue
    .command('stats')
    .description('counts per agent and state')
    .option('--json', 'print JSON')
    .action(async (opts, cmd: Command) => (await queueCommands()).statsCommand(o, globals(cmd), opts));
  queue
    .command('show')
    .description('one message with its full history')
    .argument('<id>', 'message id or a unique prefix (4+ characters)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts, cmd: Command) => (await queueCommands()).showCommand(o, globals(cmd), id, opts));
  queue
    .command('why')
    .description('one line: why the message is where it is')
    .argument('<id>', 'message id or a unique prefix')
    .option('--json', 'print JSON')
    .action(async (id: string, opts, cmd: Command) => (await queueCommands()).whyCommand(o, globals(cmd), id, opts));
  queue
    .command('cancel')
    .description('cancel pending messages (all or nothing)')
    .argument('<ids...>', 'message ids')
    .option('-r, --reason <text>', 'why (kept in the history)')
    .option('--json', 'print JSON')
    .action(async (ids: string[], opts, cmd: Command) => (await queueCommands()).cancelCommand(o, globals(cmd), ids, opts));
  queue
    .command('retry')
    .description('send dead, failed, expired or cancelled messages again with a fresh attempt budget')
    .argument('<ids...>', 'message ids')
    .option('--json', 'print JSON')
    .action(async (ids: string[], opts, cmd: Command) => (await queueCommands()).retryCommand(o, globals(cmd), ids, opts));
  queue
    .command('dlq')
    .description('the dead-letter queue, with reasons')
    .argument('[agent]', 'only this agent')
    .option('-n, --limit <n>', 'at most this many', '200')
    .option('--json', 'print JSON')
    .action(async (agent: string | undefined, opts, cmd: Command) => (await queueCommands()).dlqCommand(o, globals(cmd), agent, opts));
  queue
    .command('export')
    .description('write pending messages as JSON lines (stdout by default)')
    .option('--agent <agent>', 'only this agent')
    .option('-o, --output <file>', 'write to a file (mode 0600)')
    .action(async (opts, cmd: Command) => (await queueCommands()).exportCommand(o, globals(cmd), opts));
  queue
    .command('import')
    .description('import messages written by `queue export`; nothing is imported if any line is bad, unless --partial')
    .argument('<file>', 'JSON lines file, or - for stdin')
    .option('--partial', 'import the good lines even if some are bad')
    .option('--json', 'print JSON')
    .action(async (file: string, opts, cmd: Command) => (await queueCommands()).importCommand(o, globals(cmd), file, opts));
  queue
    .command('prune')
    .description(
      'remove confirmed, dead, expired and cancelled messages, finished tasks and events older than the age, and the run directories of worker tasks that ended before it; pending messages and open tasks are kept',
    )
    .option('--older-than <age>', 'e.g. 7d, 36h (at least 1h; default retention.maxAge of hornets.json, 7d)')
    .option('--compact', 'then rewrite the database file to give back all free space (VACUUM; blocks other writers while it runs)')
    .option('--json', 'print JSON')
    .action(async (opts, cmd: Command) => (await queueCommands()).pruneCommand(o, globals(cmd), opts));

  const migrate = program.command('migrate').description('come from Tmux-Orchestrator (its task_queue.db) and go back');
  migrate
    .command('tmux-orchestrator')
    .description('take in a Tmux-Orchestrator queue: pending messages (priority and order kept), pulled ones as redeliveries, restart history and context; the old database is only read')
    .argument('<db>', 'its task_queue.db')
    .option('--map <pair...>', 'old agent to hornets agent, e.g. --map proj:0=marie (repeatable)')
    .option('--skip <id...>', 'leave this old agent behind (repeatable)')
    .option('--from-tmux [socket]', "propose the map from the old installation's live tmux windows and their directories (default server, or this -L socket); nothing is applied by itself")
    .option('--dry-run', 'print exactly what would happen and change nothing')
    .option('--json', 'print JSON')
    .action(async (db: string, opts, cmd: Command) => (await migrateCommands()).migrateInCommand(o, globals(cmd), db, opts));
  migrate
    .command('rollback')
    .description("write hornets' pending messages back into a Tmux-Orchestrator database (created if missing) for its own hooks to deliver")
    .argument('<db>', 'its task_queue.db')
    .option('--map <pair...>', 'hornets agent to old id, e.g. --map marie=proj:0 (default: the ids migrate recorded)')
    .option('--dry-run', 'print exactly what would be written and change nothing')
    .option('--json', 'print JSON')
    .action(async (db: string, opts, cmd: Command) => (await migrateCommands()).rollbackCommand(o, globals(cmd), db, opts));

  const config = program.command('config').description('check and document hornets.json');
  config
    .command('validate')
    .description('load hornets.json and its profiles; report every problem')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const project = (await configLoad()).loadProject({ configPath: globals(cmd).config });
      if (opts.json) return json(o, { ok: true, configPath: project.configPath, agents: project.config.agents.map((a) => a.name), stateDir: project.paths.root });
      o.out(`${project.configPath}: ok (${project.config.agents.length} agents: ${project.config.agents.map((a) => `${a.name}/${a.profile}`).join(', ')})`);
    });
  config
    .command('show')
    .description('the effective configuration, defaults filled in')
    .action(async (_opts, cmd: Command) => json(o, (await configLoad()).loadProject({ configPath: globals(cmd).config }).config));
  config
    .command('schema')
    .description('print the JSON Schema of hornets.json (or of a profile) for editors')
    .option('--profile', 'the profile schema instead')
    .option('-o, --output <file>', 'write to a file')
    .action(async (opts: { profile?: boolean; output?: string }) => {
      const schemas = (await import('../config/json-schemas.js')).jsonSchemas();
      const text = `${JSON.stringify(opts.profile ? schemas.profile : schemas.hornets, null, 2)}\n`;
      if (opts.output) writeFileSync(opts.output, text);
      else process.stdout.write(text);
    });

  const profiles = program.command('profiles').description('agent profiles');
  profiles
    .command('list')
    .description('built-in profiles and the project ones')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { loadProject, loadProfiles } = await configLoad();
      let map;
      try {
        map = loadProject({ configPath: globals(cmd).config }).profiles;
      } catch {
        const { builtinProfilesDir } = await import('../config/paths.js');
        map = loadProfiles([builtinProfilesDir()]);
      }
      const list = [...map.values()];
      if (opts.json) return json(o, list);
      o.out(
        table(
          ['NAME', 'DELIVERY', 'HOOKS', 'COMMAND', 'DESCRIPTION'],
          list.map((p) => [p.name, p.delivery, p.hooks.kind, p.command.join(' '), p.description]),
        ),
      );
    });

  program
    .command('logs')
    .description('show the log file (.hornets/logs/hornets.log)')
    .option('-n, --lines <n>', 'last n lines', '50')
    .option('-f, --follow', 'keep printing new lines')
    .action(async (opts: { lines: string; follow?: boolean }, cmd: Command) => {
      const project = (await configLoad()).loadProject({ configPath: globals(cmd).config });
      await tailFile(o, project.paths.logFile, Number(opts.lines) || 50, Boolean(opts.follow));
    });

  program.option('--headless', 'run the engine (agents, hook fast path, idle monitor, crash recovery) in the foreground, without the console');
  program.option('--no-engine', 'console only: do not start the engine and the team when no engine runs');
  // The root action (the console) would make commander report a mistyped command
  // as "too many arguments"; accept the operand here (after the subcommands copied the strict setting)
  // and name it instead.
  program.allowExcessArguments(true);
  // Commander only adds `help [command]` to programs without an action of their own.
  program.helpCommand(true);
  program.action(async (opts: { headless?: boolean; engine?: boolean }, cmd: Command) => {
    const [unknown] = cmd.args;
    if (unknown !== undefined) {
      // Visible ones only: hidden internals (hook entry points, the demo agent) are not for users to type.
      const names = program
        .createHelp()
        .visibleCommands(program)
        .map((c) => c.name())
        .filter((n) => n !== 'help');
      cmd.error(`error: unknown command '${unknown}' (commands: ${names.join(', ')})`, { code: 'commander.unknownCommand', exitCode: ExitCode.usage });
    }
    if (opts.headless) return (await controlCommands()).headlessCommand(o, globals(cmd));
    // Loaded only here: hooks and one-shot commands must not pay for blessed.
    const { runConsole } = await import('../tui/run.js');
    await runConsole({
      configPath: globals(cmd).config,
      noEngine: opts.engine === false,
      benchFile: consoleEnv.benchFile,
      noColor: consoleEnv.noColor,
    });
  });
  return program;
}
