/** High-level tmux operations on hornets' private server. Targets are always immutable pane ids. */
import { childProcess } from '../proc/child-process.js';
import { rmSync } from 'node:fs';
import {
  argv,
  base,
  batchCommands,
  commands,
  heldSpec,
  isPaneId,
  MIN_TMUX,
  parsePanes,
  parseVersion,
  versionAtLeast,
  type PaneInfo,
  type ServerRef,
  type SpawnSpec,
  type TmuxVersion,
} from './argv.js';
import { TmuxError, TmuxMissingError } from './errors.js';
import { attachEnv, createRunner, serverSurelyAbsent, tmuxBinary, type TmuxRunner } from './runner.js';
import { ControlClient, type ControlHandlers } from './control.js';
import { channelRunner, TmuxChannel, type TmuxChannelOptions } from './channel.js';
import { randomHex } from '../util/ids.js';

export interface TmuxClientOptions {
  server: ServerRef;
  runner?: TmuxRunner;
  /**
   * A long-lived process (the engine) runs its frequent commands through a persistent control-mode
   * channel attached to this session (see channel.ts), spawning tmux only when it is not up.
   */
  channel?: { session: string } & TmuxChannelOptions;
}

export class TmuxClient {
  readonly server: ServerRef;
  private readonly run: TmuxRunner;
  /** The persistent command channel, when the options asked for one. */
  readonly channel: TmuxChannel | null;
  /**
   * A short-lived client of a real tmux (no injected runner, no channel): before asking tmux for
   * panes it looks whether any server listens (serverSurelyAbsent). The engine, which asks often
   * and mostly of a running server, does not probe.
   */
  private readonly realTmux: boolean;

  constructor(options: TmuxClientOptions) {
    this.server = options.server;
    this.realTmux = options.runner === undefined && options.channel === undefined;
    const spawnRunner = options.runner ?? createRunner();
    this.channel = options.channel ? new TmuxChannel(this.server, options.channel.session, options.channel) : null;
    this.run = this.channel ? channelRunner(this.channel, spawnRunner) : spawnRunner;
  }

  /** Ends the channel's control client (if any); commands after this spawn tmux. */
  async close(): Promise<void> {
    await this.channel?.stop();
  }

  private checkPane(pane: string): void {
    if (!isPaneId(pane)) throw new TmuxError([], null, '', `not a pane id: ${JSON.stringify(pane)} (expected %<number>)`);
  }

  async version(): Promise<TmuxVersion> {
    const { stdout } = await this.run(argv.version());
    const v = parseVersion(stdout);
    if (!v) throw new TmuxMissingError(`cannot read the tmux version from "${stdout.trim()}"`);
    return v;
  }

  /** Throws a clear error when tmux is missing or older than we support. */
  async checkVersion(): Promise<TmuxVersion> {
    const v = await this.version();
    if (!versionAtLeast(v)) {
      throw new TmuxMissingError(`${v.raw} is too old: hornets-tui needs tmux ${MIN_TMUX.major}.${MIN_TMUX.minor} or newer`);
    }
    return v;
  }

  async hasSession(session: string): Promise<boolean> {
    try {
      await this.run(argv.hasSession(this.server, session));
      return true;
    } catch (err) {
      if (err instanceof TmuxError) return false;
      throw err;
    }
  }

  async newSession(session: string, window: string, spec: SpawnSpec, size = { width: 200, height: 50 }): Promise<string> {
    const { stdout } = await this.run(argv.newSession(this.server, session, window, spec, size));
    return stdout.trim();
  }

  async newWindow(session: string, window: string, spec: SpawnSpec): Promise<string> {
    const { stdout } = await this.run(argv.newWindow(this.server, session, window, spec));
    return stdout.trim();
  }

  /**
   * Many windows in as few tmux processes as fit (one or two for a team of 50): each result is the
   * new pane's id or why that one window could not be made. tmux stops a batch at the first failing
   * command, so the windows after a failure are tried again in the next batch. A batch tmux did not
   * finish in time (a machine so loaded that starting agents starve the server) may still have made
   * its windows: they are found again by name among the panes that did not exist before, so no
   * window is left that nobody recorded.
   */
  async newWindows(session: string, windows: readonly { window: string; spec: SpawnSpec }[]): Promise<({ paneId: string } | { error: Error })[]> {
    const results: ({ paneId: string } | { error: Error })[] = [];
    if (windows.length === 0) return results;
    const cmds = windows.map((w) => commands.newWindow(session, w.window, w.spec));
    const before = new Set((await this.listPanes()).map((p) => p.paneId));
    while (results.length < cmds.length) {
      const first = results.length;
      const chunk = batchCommands(cmds.slice(first))[0]!;
      try {
        // tmux starts every window's process before it answers: generous, as the agents started by
        // the windows before compete with it for the CPU.
        const ids = (await this.run(argv.batch(this.server, chunk), { timeoutMs: 60_000 + 2_000 * chunk.length })).stdout.split('\n').filter((l) => l.trim() !== '');
        for (let i = 0; i < chunk.length; i++) {
          const id = ids[i]?.trim();
          results.push(id ? { paneId: id } : { error: new TmuxError([...base(this.server), ...chunk[i]!], 0, '', 'tmux made the window but printed no pane id') });
        }
      } catch (err) {
        if (!(err instanceof TmuxError)) throw err;
        if (err.status === null) {
          // No answer (killed on timeout): what it made is read back from tmux, by window name.
          const made = (await this.listPanes().catch(() => [])).filter((p) => p.session === session && !before.has(p.paneId));
          for (let i = first; i < cmds.length; i++) {
            const pane = made.find((p) => p.windowName === windows[i]!.window);
            results.push(pane ? { paneId: pane.paneId } : { error: err });
          }
          break;
        }
        // The windows made before the failing command printed their ids; that command failed.
        const made = err.stdout.split('\n').filter((l) => l.trim() !== '');
        for (const id of made.slice(0, chunk.length - 1)) results.push({ paneId: id.trim() });
        const failed = chunk[Math.min(made.length, chunk.length - 1)]!;
        results.push({ error: new TmuxError([...base(this.server), ...failed], err.status, err.stderr) });
        if (err.noServer) {
          const last = results[results.length - 1]!;
          while (results.length < cmds.length) results.push(last);
        }
      }
    }
    return results;
  }

  /**
   * newWindows with every window's command held at a gate (argv.ts heldSpec) until `release()`, one
   * tmux call for all: the windows are made while no agent competes with the server, and the caller
   * records them before the agents run. Call release() in a finally: a held agent never starts.
   */
  async newHeldWindows(session: string, windows: readonly { window: string; spec: SpawnSpec }[]): Promise<{ made: ({ paneId: string } | { error: Error })[]; release: () => Promise<void> }> {
    const token = randomHex(4);
    const channels = windows.map((_w, i) => `hornets-start-${token}-${i}`);
    const release = async () => {
      for (const chunk of batchCommands(channels.map((c) => commands.signal(c)))) await this.run(argv.batch(this.server, chunk));
    };
    try {
      const made = await this.newWindows(
        session,
        windows.map((w, i) => ({ window: w.window, spec: heldSpec(w.spec, channels[i]!, tmuxBinary()) })),
      );
      return { made, release };
    } catch (err) {
      // Whatever was made must not wait for ever.
      await release().catch(() => undefined);
      throw err;
    }
  }

  /** Server-global environment and hooks in one tmux process; throws when any of them fails. */
  async configure(settings: { environment?: Record<string, string>; hooks?: Record<string, string> }): Promise<void> {
    const cmds = [...Object.entries(settings.environment ?? {}).map(([k, v]) => commands.setEnvironment(k, v)), ...Object.entries(settings.hooks ?? {}).map(([k, v]) => commands.setHook(k, v))];
    for (const chunk of batchCommands(cmds)) await this.run(argv.batch(this.server, chunk));
  }

  /**
   * The server's status-right (issue 17: who needs you); null puts tmux's default back. `#` is
   * doubled: agent names are not tmux formats.
   */
  async setStatusRight(text: string | null): Promise<void> {
    const cmds =
      text === null
        ? [commands.unsetGlobalOption('status-right'), commands.unsetGlobalOption('status-right-length')]
        : [commands.setGlobalOption('status-right-length', String(Math.max(40, text.length + 2))), commands.setGlobalOption('status-right', text.replace(/#/g, '##'))];
    await this.run(argv.batch(this.server, cmds));
  }

  /** Removes a global hook (`down` silences pane-died before it kills the team). */
  async unsetHook(hook: string): Promise<void> {
    await this.run(argv.batch(this.server, [commands.unsetHook(hook)]));
  }

  async respawnPane(pane: string, spec: SpawnSpec): Promise<void> {
    this.checkPane(pane);
    await this.run(argv.respawnPane(this.server, pane, spec));
  }

  /** Every pane of the server; [] when the server is not running. */
  async listPanes(): Promise<PaneInfo[]> {
    const panes = await this.listPanesOnce();
    return panes.some((p) => this.lostExit(p)) ? this.reapLostExits(panes) : panes;
  }

  private async listPanesOnce(): Promise<PaneInfo[]> {
    // `status` with no agent up asks no tmux at all: no server, no panes, as tmux would say.
    if (this.realTmux && (await serverSurelyAbsent(this.server.socket))) return [];
    try {
      const { stdout } = await this.run(argv.listPanes(this.server));
      return parsePanes(stdout);
    } catch (err) {
      if (err instanceof TmuxError && err.noServer) return [];
      throw err;
    }
  }

  /** Dead panes already kicked once (pane id and pid), so a status that never comes costs one wait. */
  private readonly kicked = new Set<string>();

  /** Dead with neither exit status nor signal: tmux has not reaped the process (see below). */
  private lostExit(p: PaneInfo): boolean {
    return p.dead && p.deadStatus === null && (p.deadSignal ?? null) === null && !this.kicked.has(`${p.paneId}:${p.pid}`);
  }

  /**
   * tmux before 3.5 can miss the SIGCHLD of a pane's process (with tmux 3.3a about one demo-agent
   * crash in three here): the pane shows dead, the process stays a zombie, no exit status is
   * recorded and the pane-died hook never runs, so a crash would go unreported. A SIGCHLD sent to
   * the server makes it call waitpid again, which records the status and runs the hook.
   */
  private async reapLostExits(panes: PaneInfo[]): Promise<PaneInfo[]> {
    for (const p of panes) if (this.lostExit(p)) this.kicked.add(`${p.paneId}:${p.pid}`);
    let pid: number;
    try {
      pid = Number((await this.run(argv.serverPid(this.server))).stdout.trim());
      if (!Number.isInteger(pid) || pid <= 1) return panes;
      process.kill(pid, 'SIGCHLD');
    } catch {
      return panes; // server gone meanwhile, or not ours to signal: report what we saw
    }
    const lost = (p: PaneInfo) => p.dead && p.deadStatus === null && (p.deadSignal ?? null) === null;
    const deadline = Date.now() + 500;
    let current = panes;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      current = await this.listPanesOnce();
      if (!current.some(lost)) break;
    }
    return current;
  }

  async pane(pane: string): Promise<PaneInfo | null> {
    return (await this.listPanes()).find((p) => p.paneId === pane) ?? null;
  }

  async capture(pane: string, options: { escapes?: boolean; start?: number } = {}): Promise<string> {
    this.checkPane(pane);
    const { stdout } = await this.run(argv.capturePane(this.server, pane, options));
    return stdout;
  }

  /** Dead flag and screen of a pane in one call; null when the pane (or the server) is gone. */
  async paneScreen(pane: string): Promise<{ dead: boolean; screen: string } | null> {
    this.checkPane(pane);
    try {
      const { stdout } = await this.run(argv.paneScreen(this.server, pane));
      const nl = stdout.indexOf('\n');
      return { dead: stdout.slice(0, nl === -1 ? undefined : nl).trim() === '1', screen: nl === -1 ? '' : stdout.slice(nl + 1) };
    } catch (err) {
      if (err instanceof TmuxError && (err.noServer || err.missingTarget)) return null;
      throw err;
    }
  }

  /** Types one engine-made line (see argv.typeLiteral); message text goes through paste(). */
  async typeLiteral(pane: string, text: string): Promise<void> {
    this.checkPane(pane);
    if (text === '' || text.startsWith('-') || text.endsWith(';') || [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
      throw new TmuxError([], null, '', `not a line tmux can type literally: ${JSON.stringify(text.slice(0, 40))}`);
    }
    await this.run(argv.typeLiteral(this.server, pane, text));
  }

  async sendKey(pane: string, key: 'Enter' | 'Escape' | 'C-c' | 'C-u' | 'C-d'): Promise<void> {
    this.checkPane(pane);
    await this.run(argv.sendKey(this.server, pane, key));
  }

  /**
   * Types text into a pane through a private named buffer: the text travels on stdin, never in
   * argv, so no part of it can be read as a tmux command or key name.
   */
  async paste(pane: string, text: string, options: { bracketed: boolean }): Promise<void> {
    this.checkPane(pane);
    const buffer = `hornets-${randomHex(6)}`;
    await this.run(argv.loadBuffer(this.server, buffer), { input: text });
    try {
      await this.run(argv.pasteBuffer(this.server, buffer, pane, options));
    } catch (err) {
      await this.run(argv.deleteBuffer(this.server, buffer)).catch(() => undefined);
      throw err;
    }
  }

  async killPane(pane: string): Promise<void> {
    this.checkPane(pane);
    await this.run(argv.killPane(this.server, pane));
  }

  async killWindow(pane: string): Promise<void> {
    this.checkPane(pane);
    await this.run(argv.killWindow(this.server, pane));
  }

  /** A window option of the window holding `pane` (e.g. remain-on-exit off for a run that goes with its process). */
  async setWindowOption(pane: string, name: string, value: string): Promise<void> {
    this.checkPane(pane);
    await this.run(argv.setWindowOption(this.server, pane, name, value));
  }

  async killServer(): Promise<void> {
    let socketPath: string | null = null;
    try {
      socketPath = (await this.run([...base(this.server), 'display-message', '-p', '#{socket_path}'])).stdout.trim() || null;
      await this.run(argv.killServer(this.server));
    } catch (err) {
      if (!(err instanceof TmuxError && err.noServer)) throw err;
    }
    // tmux can leave its socket file behind when killed; a stale one is clutter in /tmp.
    if (socketPath) rmSync(socketPath, { force: true });
  }

  async showEnvironment(name: string): Promise<string | null> {
    try {
      const { stdout } = await this.run(argv.showEnvironment(this.server, name));
      const line = stdout.trim();
      return line.startsWith(`${name}=`) ? line.slice(name.length + 1) : null;
    } catch (err) {
      if (err instanceof TmuxError) return null;
      throw err;
    }
  }

  /** Server-global environment: how hook commands learn paths without building shell strings from them. */
  async setEnvironment(name: string, value: string): Promise<void> {
    await this.run(argv.setEnvironment(this.server, name, value));
  }

  async setHook(hook: string, command: string): Promise<void> {
    await this.run(argv.setHook(this.server, hook, command));
  }

  async display(pane: string, format: string): Promise<string> {
    this.checkPane(pane);
    const { stdout } = await this.run(argv.displayPane(this.server, pane, format));
    return stdout.replace(/\n$/, '');
  }

  /** The name of window `index` of `session`, or null when there is no such window (or no server). */
  async windowNameAt(session: string, index: number): Promise<string | null> {
    if (!Number.isSafeInteger(index) || index < 0) throw new TmuxError([], null, '', `not a window index: ${index}`);
    try {
      const { stdout } = await this.run(argv.windowNameAt(this.server, session, index));
      const name = stdout.replace(/\n$/, '');
      return name === '' ? null : name;
    } catch {
      return null;
    }
  }

  /** A listening control-mode client on `session` (started by the caller). */
  controlClient(session: string, handlers: ControlHandlers): ControlClient {
    return new ControlClient(this.server, session, handlers);
  }

  /**
   * Hands the terminal to tmux: switch-client when already inside this server, attach otherwise
   * (TMUX unset, so attaching from inside another tmux works too). Resolves with tmux's exit code.
   */
  attach(session: string, pane: string, options: { insideThisServer: boolean }): Promise<number> {
    this.checkPane(pane);
    const args = options.insideThisServer ? argv.switchClient(this.server, pane) : argv.attach(this.server, session, pane);
    return new Promise((resolve, reject) => {
      const child = childProcess().spawn(tmuxBinary(), args, { stdio: 'inherit', env: attachEnv(options.insideThisServer) });
      child.on('error', reject);
      child.on('close', (code) => resolve(code ?? 1));
    });
  }
}
