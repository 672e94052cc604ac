/**
 * Pure builders for tmux argv. Message text never goes into argv (tmux treats a trailing ';' in an
 * argument as a command separator); it travels through load-buffer's stdin instead.
 */

export interface ServerRef {
  /** `-L` socket name: hornets' own server, never the user's default one. */
  socket: string;
  /** `-f` config file, so user bindings and options cannot change how we target panes. */
  configFile: string;
}

export interface SpawnSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

/** Pane fields we read, in list-panes order; `\t` cannot appear in any of them except names, which we validate. */
export const paneFields = [
  'pane_id',
  'session_name',
  'window_id',
  'window_name',
  'pane_pid',
  'pane_dead',
  'pane_dead_status',
  'pane_current_command',
  'pane_width',
  'pane_height',
  'pane_in_mode',
  'pane_dead_signal',
] as const;

export const paneFormat = paneFields.map((f) => `#{${f}}`).join('\t');

export function base(server: ServerRef): string[] {
  return ['-L', server.socket, '-f', server.configFile];
}

function envArgs(env: Record<string, string>): string[] {
  return Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
}

/**
 * Working directory, environment and the command — the same for new-session, new-window and
 * respawn-pane; `printPaneId` asks tmux for the new pane's immutable id, which everything after targets.
 */
function spawnTail(spec: SpawnSpec, printPaneId = false): string[] {
  return ['-c', spec.cwd, ...envArgs(spec.env), ...(printPaneId ? ['-P', '-F', '#{pane_id}'] : []), '--', ...spec.argv];
}

/**
 * A pane command held back until `wait-for -S <channel>` on its server: tmux makes a team's windows
 * without the agents it already started competing with it for the CPU (on 2 cores, 50 Node agents
 * starting made one batch of 50 windows take 10 s instead of 1 s). A tiny POSIX shell waits (the
 * pane's `$TMUX` names the server), then execs the command in the same process, so the pane's pid is
 * the agent's. A gate that cannot wait (tmux not found, server gone) lets the agent start at once.
 */
export function heldSpec(spec: SpawnSpec, channel: string, tmuxBin: string): SpawnSpec {
  return { ...spec, argv: ['sh', '-c', '"$1" wait-for "$2" >/dev/null 2>&1; shift 2; exec "$@"', 'hornets-start', tmuxBin, channel, ...spec.argv] };
}

/** Single tmux commands without the server part, for `argv.batch`. */
export const commands = {
  /** Releases the panes held on `channel` (heldSpec); a signal before the wait is remembered by tmux. */
  signal: (channel: string): string[] => ['wait-for', '-S', channel],
  newWindow: (session: string, window: string, spec: SpawnSpec): string[] => ['new-window', '-d', '-t', `=${session}:`, '-n', window, ...spawnTail(spec, true)],
  setEnvironment: (name: string, value: string): string[] => ['set-environment', '-g', name, value],
  setHook: (hook: string, command: string): string[] => ['set-hook', '-g', hook, command],
  unsetHook: (hook: string): string[] => ['set-hook', '-gu', hook],
  setGlobalOption: (name: string, value: string): string[] => ['set-option', '-g', name, value],
  unsetGlobalOption: (name: string): string[] => ['set-option', '-gu', name],
};

/**
 * tmux's client hands its whole command to the server in one message of at most 16 KiB (else
 * "command too long"); batches stay under it with room for the message's own header.
 */
export const MAX_BATCH_BYTES = 14 * 1024;

function argBytes(args: readonly string[]): number {
  return args.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
}

/**
 * Splits commands into runs that each fit one tmux invocation (`cmd1 ; cmd2 ; …`). A command too
 * big to share goes alone. The separator is the bare argument `;`, as tmux parses its argv.
 */
export function batchCommands(cmds: readonly string[][], maxBytes = MAX_BATCH_BYTES): string[][][] {
  const out: string[][][] = [];
  let current: string[][] = [];
  let size = 0;
  for (const c of cmds) {
    const n = argBytes(c) + 2;
    // tmux also splits at an argument ending in ';': such a command keeps the meaning it has alone.
    const alone = c.some((a) => a.endsWith(';'));
    if (current.length > 0 && (alone || size + n > maxBytes)) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(c);
    size += n;
    if (alone) {
      out.push(current);
      current = [];
      size = 0;
    }
  }
  if (current.length > 0) out.push(current);
  return out;
}

export const argv = {
  /** Several commands in one tmux process: tmux runs them in order and stops at the first that fails. */
  batch: (server: ServerRef, cmds: readonly string[][]): string[] => [...base(server), ...cmds.flatMap((c, i) => (i === 0 ? c : [';', ...c]))],
  version: (): string[] => ['-V'],
  hasSession: (server: ServerRef, session: string): string[] => [...base(server), 'has-session', '-t', `=${session}`],
  newSession: (server: ServerRef, session: string, window: string, spec: SpawnSpec, size: { width: number; height: number }): string[] => [
    ...base(server),
    'new-session',
    '-d',
    '-s',
    session,
    '-n',
    window,
    '-x',
    String(size.width),
    '-y',
    String(size.height),
    ...spawnTail(spec, true),
  ],
  newWindow: (server: ServerRef, session: string, window: string, spec: SpawnSpec): string[] => [...base(server), ...commands.newWindow(session, window, spec)],
  setWindowOption: (server: ServerRef, pane: string, name: string, value: string): string[] => [...base(server), 'set-option', '-w', '-t', pane, name, value],
  respawnPane: (server: ServerRef, pane: string, spec: SpawnSpec): string[] => [...base(server), 'respawn-pane', '-k', '-t', pane, ...spawnTail(spec)],
  listPanes: (server: ServerRef): string[] => [...base(server), 'list-panes', '-a', '-F', paneFormat],
  capturePane: (server: ServerRef, pane: string, opts: { escapes?: boolean; start?: number } = {}): string[] => [
    ...base(server),
    'capture-pane',
    '-p',
    '-J',
    ...(opts.escapes ? ['-e'] : []),
    ...(opts.start !== undefined ? ['-S', String(opts.start)] : []),
    '-t',
    pane,
  ],
  /** Named keys only (Enter, Escape, C-c); never message text. */
  sendKey: (server: ServerRef, pane: string, key: string): string[] => [...base(server), 'send-keys', '-t', pane, key],
  /**
   * One line of engine-made text typed key by key (`-l`: no key names). Never message text: that
   * goes through a buffer. The caller refuses text tmux could read as a flag or a command separator.
   */
  typeLiteral: (server: ServerRef, pane: string, text: string): string[] => [...base(server), 'send-keys', '-t', pane, '-l', text],
  /** Whether the pane is dead (first line), then its screen: one tmux process instead of two. */
  paneScreen: (server: ServerRef, pane: string): string[] => [...base(server), 'display-message', '-p', '-t', pane, '#{pane_dead}', ';', 'capture-pane', '-p', '-J', '-t', pane],
  loadBuffer: (server: ServerRef, buffer: string): string[] => [...base(server), 'load-buffer', '-b', buffer, '-'],
  /** -p: bracketed paste when the app asked for it; -d: delete the buffer after; -r: keep \n (no LF->CR). */
  pasteBuffer: (server: ServerRef, buffer: string, pane: string, opts: { bracketed: boolean }): string[] => [
    ...base(server),
    'paste-buffer',
    '-d',
    ...(opts.bracketed ? ['-p'] : []),
    '-b',
    buffer,
    '-t',
    pane,
  ],
  deleteBuffer: (server: ServerRef, buffer: string): string[] => [...base(server), 'delete-buffer', '-b', buffer],
  killPane: (server: ServerRef, pane: string): string[] => [...base(server), 'kill-pane', '-t', pane],
  killWindow: (server: ServerRef, pane: string): string[] => [...base(server), 'kill-window', '-t', pane],
  killServer: (server: ServerRef): string[] => [...base(server), 'kill-server'],
  renameWindow: (server: ServerRef, pane: string, name: string): string[] => [...base(server), 'rename-window', '-t', pane, name],
  setPaneOption: (server: ServerRef, pane: string, option: string, value: string): string[] => [...base(server), 'set-option', '-p', '-t', pane, option, value],
  showEnvironment: (server: ServerRef, name: string): string[] => [...base(server), 'show-environment', '-g', name],
  setEnvironment: (server: ServerRef, name: string, value: string): string[] => [...base(server), ...commands.setEnvironment(name, value)],
  setHook: (server: ServerRef, hook: string, command: string): string[] => [...base(server), ...commands.setHook(hook, command)],
  displayPane: (server: ServerRef, pane: string, format: string): string[] => [...base(server), 'display-message', '-p', '-t', pane, format],
  /** The name of the window at `index` of `session` (exact session match: `=`). */
  windowNameAt: (server: ServerRef, session: string, index: number): string[] => [...base(server), 'display-message', '-p', '-t', `=${session}:${index}`, '#{window_name}'],
  serverPid: (server: ServerRef): string[] => [...base(server), 'display-message', '-p', '#{pid}'],
  attach: (server: ServerRef, session: string, pane: string): string[] => [...base(server), 'attach-session', '-t', `=${session}`, ';', 'select-window', '-t', pane, ';', 'select-pane', '-t', pane],
  switchClient: (server: ServerRef, pane: string): string[] => [...base(server), 'switch-client', '-t', pane],
  /**
   * A control-mode client (`-C`) that only listens: `%output %<pane>` notifications drive the
   * console's live preview. `ignore-size` keeps it from shrinking the agents' windows; `read-only`
   * keeps it from changing anything.
   */
  controlClient: (server: ServerRef, session: string): string[] => [...base(server), '-C', 'attach-session', '-t', `=${session}`, '-f', 'ignore-size,read-only'],
};

export interface PaneInfo {
  paneId: string;
  session: string;
  windowId: string;
  windowName: string;
  pid: number;
  dead: boolean;
  deadStatus: number | null;
  /** The signal that killed it (deadStatus is null then); optional so hand-made PaneInfos stay valid. */
  deadSignal?: number | null;
  currentCommand: string;
  width: number;
  height: number;
  inMode: boolean;
}

export function parsePanes(stdout: string): PaneInfo[] {
  return stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const f = line.split('\t');
      return {
        paneId: f[0] ?? '',
        session: f[1] ?? '',
        windowId: f[2] ?? '',
        windowName: f[3] ?? '',
        pid: Number(f[4] ?? 0),
        dead: f[5] === '1',
        deadStatus: f[5] === '1' && f[6] !== '' ? Number(f[6]) : null,
        currentCommand: f[7] ?? '',
        width: Number(f[8] ?? 0),
        height: Number(f[9] ?? 0),
        inMode: f[10] === '1',
        deadSignal: f[5] === '1' && (f[11] ?? '') !== '' ? Number(f[11]) : null,
      };
    });
}

export interface TmuxVersion {
  major: number;
  minor: number;
  raw: string;
}

/** `tmux 3.3a`, `tmux next-3.4`, `tmux 3.2` -> {3, 3}. */
export function parseVersion(output: string): TmuxVersion | null {
  const m = /(\d+)\.(\d+)/.exec(output);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), raw: output.trim() };
}

export const MIN_TMUX = { major: 3, minor: 0 } as const;

export function versionAtLeast(v: TmuxVersion, min: { major: number; minor: number } = MIN_TMUX): boolean {
  return v.major > min.major || (v.major === min.major && v.minor >= min.minor);
}

/** Pane ids look like %12; anything else is rejected before it reaches tmux. */
export function isPaneId(s: string): boolean {
  return /^%\d+$/.test(s);
}
