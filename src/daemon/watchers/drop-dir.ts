/**
 * The intake shared by trigger and task files: `<root>/<agent>/*<suffix>` files are picked up as
 * soon as they appear (fs.watch per agent directory) with a slow scan as the safety net, read,
 * checked (size, binary, JSON) and handed to a handler; bad ones move to `<dlq>/<agent>/<name>`
 * beside `<name>.error.json` ({error, at}).
 *
 * Writers should write elsewhere (or under a name without the suffix) and rename into place. A file
 * whose JSON does not parse may still be being written: it gets one more chance on a later scan and
 * is only dead-lettered if it is unchanged by then.
 */
import { constants, watch, type FSWatcher, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, writeFile, chmod, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../../log.js';
import { errorMessage } from '../../errors.js';

export const MAX_DROP_FILE_BYTES = 1024 * 1024;
/** The safety net under fs.watch (the mechanism): long enough that an idle engine with 50 agents rarely reads their directories. */
export const DEFAULT_SCAN_INTERVAL_MS = 15_000;
/** Poll mode's period when none is configured. */
export const DEFAULT_POLL_INTERVAL_MS = 2_000;

/**
 * events: fs.watch (inotify) finds a file at once, a slow scan is the safety net. poll: no watch at
 * all, the scan runs every `intervalMs`: for directories on a network volume (NFS, SMB, EFS, …),
 * where files other hosts write raise no event here.
 */
export type WatchMode = 'events' | 'poll';

export interface WatchSettings {
  mode: WatchMode;
  /** Poll mode: the scan period. */
  intervalMs: number;
}

/** What runs, for logs and tests: the mode, the scan period and how many directories are watched. */
export interface WatchState {
  mode: WatchMode;
  intervalMs: number;
  watchedDirs: number;
}

/** Dead letters for files found outside any agent directory. */
export const UNASSIGNED_DIR = '_unassigned';

export interface DropFile {
  agent: string;
  /** File name inside the agent directory. */
  name: string;
  path: string;
  text: string;
  json: unknown;
  stat: Stats;
}

export type DropOutcome =
  /** Taken in: the file is removed. */
  | { kind: 'done' }
  /** Invalid for good: the file moves to the DLQ with this error. */
  | { kind: 'dead'; error: string }
  /** Transient (queue full, database busy): the file stays and is tried again on the next scan. */
  | { kind: 'retry'; error: string };

export interface DropDirOptions {
  /** What the files are, for logs ("trigger", "task"). */
  kind: string;
  root: string;
  dlq: string;
  suffix: string;
  agents: readonly string[];
  log: Logger;
  clock: () => number;
  handle: (file: DropFile) => Promise<DropOutcome>;
  /** Called after a file was dead-lettered. */
  onDead?: (agent: string, name: string, error: string) => void;
  scanIntervalMs?: number;
  /** Poll mode replaces fs.watch by a scan every `intervalMs` (then `scanIntervalMs` is unused). */
  watch?: WatchSettings;
  maxFileBytes?: number;
}

interface Suspect {
  size: number;
  mtimeMs: number;
  ino: number;
  since: number;
}

async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

function sameFile(a: Suspect, s: Stats): boolean {
  return a.size === s.size && a.mtimeMs === s.mtimeMs && a.ino === s.ino;
}

/** Moves a file to `<dlq>/<agent>/<name>` (a timestamped name if taken) and writes `<name>.error.json`. */
export async function deadLetter(dlqRoot: string, agent: string, name: string, from: string | null, error: string, at: number, extra: Record<string, unknown> = {}, content?: string): Promise<string> {
  const dir = join(dlqRoot, agent);
  await ensureDir(dir);
  let target = join(dir, name);
  try {
    await lstat(target);
    target = join(dir, `${new Date(at).toISOString().replace(/[:.]/g, '-')}-${name}`);
  } catch {
    // Free.
  }
  if (from !== null) await rename(from, target);
  else await writeFile(target, content ?? '', { mode: 0o600 });
  await writeFile(`${target}.error.json`, `${JSON.stringify({ error, at: new Date(at).toISOString(), agent, file: name, ...extra }, null, 2)}\n`, { mode: 0o600 });
  return target;
}

export class DropDir {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly suspects = new Map<string, Suspect>();
  /** path -> whether the request came from a scan (only scans dead-letter unchanged partial files). */
  private readonly wanted = new Map<string, { agent: string; name: string; fromScan: boolean }>();
  private readonly warned = new Set<string>();
  private draining: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private agentSet: Set<string>;
  private readonly scanIntervalMs: number;
  private readonly mode: WatchMode;
  private readonly maxBytes: number;

  constructor(private readonly o: DropDirOptions) {
    this.agentSet = new Set(o.agents);
    this.mode = o.watch?.mode ?? 'events';
    this.scanIntervalMs = this.mode === 'poll' ? (o.watch?.intervalMs ?? DEFAULT_POLL_INTERVAL_MS) : (o.scanIntervalMs ?? DEFAULT_SCAN_INTERVAL_MS);
    this.maxBytes = o.maxFileBytes ?? MAX_DROP_FILE_BYTES;
  }

  watchState(): WatchState {
    return { mode: this.mode, intervalMs: this.scanIntervalMs, watchedDirs: this.watchers.size };
  }

  agentDir(agent: string): string {
    return join(this.o.root, agent);
  }

  async start(): Promise<void> {
    this.running = true;
    await ensureDir(this.o.root);
    for (const agent of this.agentSet) await ensureDir(this.agentDir(agent));
    this.watchAll();
    await this.scan();
    this.timer = setInterval(() => void this.scan().catch((err) => this.o.log.error({ event: `${this.o.kind}_scan_failed`, error: errorMessage(err) }, 'scan failed')), this.scanIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.wanted.clear();
    await this.draining;
  }

  /**
   * The team changed while the engine runs (`add`, `remove`, an edit of hornets.json): new agents'
   * directories are made and watched at once; a removed agent's watch ends, and files left in its
   * directory are dead-lettered by the next scan as for any unknown agent.
   */
  async setAgents(agents: readonly string[]): Promise<void> {
    const next = new Set(agents);
    for (const agent of this.agentSet) {
      if (next.has(agent)) continue;
      this.watchers.get(agent)?.close();
      this.watchers.delete(agent);
    }
    const added = [...next].filter((a) => !this.agentSet.has(a));
    this.agentSet = next;
    if (!this.running) return;
    for (const agent of added) await ensureDir(this.agentDir(agent));
    this.watchAll();
    for (const agent of added) await this.scanAgent(agent, false);
  }

  private watchAll(): void {
    if (this.mode === 'poll') return;
    for (const agent of this.agentSet) {
      if (this.watchers.has(agent)) continue;
      try {
        const w = watch(this.agentDir(agent), { persistent: false }, (_event, filename) => {
          const name = filename === null ? null : String(filename);
          if (name === null) {
            // The platform did not say which file: look at the whole directory.
            void this.scanAgent(agent, false);
            return;
          }
          if (this.isCandidate(name)) this.request(agent, name, false);
        });
        w.on('error', (err) => {
          // The directory was removed or replaced: the next scan recreates and rewatches it.
          this.o.log.warn({ event: `${this.o.kind}_watch_lost`, agent, error: err.message }, 'directory watch lost; the scan recreates it');
          w.close();
          this.watchers.delete(agent);
        });
        this.watchers.set(agent, w);
      } catch (err) {
        this.o.log.warn({ event: `${this.o.kind}_watch_failed`, agent, error: errorMessage(err) }, 'cannot watch directory; relying on the scan');
      }
    }
  }

  private isCandidate(name: string): boolean {
    return name.endsWith(this.o.suffix) && name.length > this.o.suffix.length && !name.startsWith('.');
  }

  private request(agent: string, name: string, fromScan: boolean): void {
    if (!this.running) return;
    const path = join(this.agentDir(agent), name);
    const prev = this.wanted.get(path);
    this.wanted.set(path, { agent, name, fromScan: fromScan || (prev?.fromScan ?? false) });
    // Fire and forget: drain() logs each file's failure itself; stop() and scan() await `draining`.
    void this.kick();
  }

  private kick(): Promise<void> {
    if (!this.draining) {
      const run = this.drain().finally(() => {
        if (this.draining === run) this.draining = null;
        // A request that arrived after the loop's last check and before this callback.
        if (this.wanted.size > 0 && this.running) void this.kick();
      });
      this.draining = run;
    }
    return this.draining;
  }

  private async drain(): Promise<void> {
    while (this.wanted.size > 0 && this.running) {
      const [path, req] = this.wanted.entries().next().value as [string, { agent: string; name: string; fromScan: boolean }];
      this.wanted.delete(path);
      try {
        await this.process(path, req.agent, req.name, req.fromScan);
      } catch (err) {
        this.o.log.error({ event: `${this.o.kind}_process_failed`, agent: req.agent, file: req.name, error: errorMessage(err) }, 'file processing failed; retried on the next scan');
      }
    }
  }

  private async scanAgent(agent: string, fromScan: boolean): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.agentDir(agent));
    } catch {
      // Removed under a watch that did not say so: the next scan makes it again and rewatches it.
      this.watchers.get(agent)?.close();
      this.watchers.delete(agent);
      return;
    }
    for (const n of names.sort()) if (this.isCandidate(n)) this.request(agent, n, fromScan);
  }

  /** One safety-net pass: every agent directory, unknown directories and stray files. Resolves when all were handled. */
  async scan(): Promise<void> {
    if (!this.running) return;
    await ensureDir(this.o.root);
    // A watched directory exists: only the unwatched ones (never watched, or their watch lost) are
    // made again, so an idle engine's scan of 50 agents is 50 readdirs, not 50 mkdirs more.
    for (const agent of this.agentSet) if (!this.watchers.has(agent)) await ensureDir(this.agentDir(agent));
    this.watchAll();
    for (const agent of this.agentSet) await this.scanAgent(agent, true);
    while (this.draining || (this.wanted.size > 0 && this.running)) await this.kick();
    await this.scanStrays();
    // Forget suspects whose files are gone.
    for (const p of this.suspects.keys()) {
      try {
        await stat(p);
      } catch {
        this.suspects.delete(p);
      }
    }
  }

  /** Files in directories of agents that are not configured, and files outside any agent directory. */
  private async scanStrays(): Promise<void> {
    const entries = await readdir(this.o.root, { withFileTypes: true });
    for (const e of entries) {
      if (this.agentSet.has(e.name) || e.name.startsWith('.')) continue;
      if (e.isDirectory()) {
        const dir = join(this.o.root, e.name);
        let names: string[];
        try {
          names = await readdir(dir);
        } catch {
          continue;
        }
        for (const n of names.filter((x) => this.isCandidate(x))) {
          const error = `unknown agent "${e.name}" (configured agents: ${[...this.agentSet].join(', ')})`;
          await this.bury(join(dir, n), e.name, n, error);
        }
      } else if (e.isFile() && this.isCandidate(e.name)) {
        await this.bury(join(this.o.root, e.name), UNASSIGNED_DIR, e.name, `${this.o.kind} files go in ${this.o.root}/<agent>/, not in ${this.o.root}/ itself`);
      }
    }
  }

  private async bury(path: string, agent: string, name: string, error: string): Promise<void> {
    this.suspects.delete(path);
    try {
      const target = await deadLetter(this.o.dlq, agent, name, path, error, this.o.clock());
      this.o.log.warn({ event: `${this.o.kind}_dead`, agent, file: name, error, target }, `${this.o.kind} file dead-lettered`);
      this.o.onDead?.(agent, name, error);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (!this.warned.has(path)) {
        this.warned.add(path);
        this.o.log.error({ event: `${this.o.kind}_dlq_failed`, agent, file: name, error: errorMessage(err) }, 'cannot move file to the DLQ');
      }
    }
  }

  private async process(path: string, agent: string, name: string, fromScan: boolean): Promise<void> {
    // Opened first and then judged by its descriptor, never checked by path and read by path again:
    // a file swapped for a symlink between the two would leak another file's content into the
    // queue, and one swapped for a FIFO would block the read for every agent. O_NOFOLLOW refuses
    // the symlink, O_NONBLOCK keeps a FIFO's open from waiting for a writer.
    const opened = await openDropFile(path, this.maxBytes);
    if (opened.kind === 'gone') {
      this.suspects.delete(path);
      return;
    }
    if (opened.kind === 'refused') return this.bury(path, agent, name, opened.reason);
    const { buf, st } = opened;
    if (buf.length > this.maxBytes) return this.bury(path, agent, name, `file is ${buf.length} bytes; the limit is ${this.maxBytes} bytes (1 MiB)`);
    if (buf.includes(0)) return this.bury(path, agent, name, 'binary content (NUL bytes): expected a JSON text file');
    let text: string | null;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
    } catch {
      text = null;
    }
    let json: unknown;
    let parseError: string | null = null;
    if (text === null) parseError = 'binary content: not valid UTF-8 text';
    else if (text.trim() === '') parseError = 'empty file: expected a JSON object';
    else {
      try {
        json = JSON.parse(text);
      } catch (err) {
        parseError = `not JSON: ${errorMessage(err)}`;
      }
    }
    if (parseError !== null) {
      // Perhaps still being written: wait until a scan finds it unchanged well after the first try.
      const suspect = this.suspects.get(path);
      const now = this.o.clock();
      if (!suspect || !sameFile(suspect, st)) {
        this.suspects.set(path, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, since: now });
        this.o.log.info({ event: `${this.o.kind}_partial`, agent, file: name, error: parseError }, 'file does not parse yet; trying again on the next scan');
        return;
      }
      if (!fromScan || now - suspect.since < this.scanIntervalMs / 2) return;
      return this.bury(path, agent, name, parseError);
    }
    this.suspects.delete(path);
    const outcome = await this.o.handle({ agent, name, path, text: text!, json, stat: st });
    switch (outcome.kind) {
      case 'done': {
        // A new file renamed over this name meanwhile is not ours to remove: take it in next.
        const now = await lstat(path).catch(() => null);
        if (now && (now.ino !== st.ino || now.mtimeMs !== st.mtimeMs || now.size !== st.size)) {
          this.request(agent, name, false);
          return;
        }
        await rm(path, { force: true });
        return;
      }
      case 'dead':
        return this.bury(path, agent, name, outcome.error);
      case 'retry':
        this.o.log.warn({ event: `${this.o.kind}_deferred`, agent, file: name, error: outcome.error }, 'file left in place; tried again on the next scan');
        return;
    }
  }
}

type OpenedDropFile = { kind: 'read'; buf: Buffer; st: Stats } | { kind: 'gone' } | { kind: 'refused'; reason: string };

/** Reads a dropped file through one descriptor: what was checked is what is read. */
async function openDropFile(path: string, maxBytes: number): Promise<OpenedDropFile> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'gone' };
    // Linux says ELOOP for a symlink under O_NOFOLLOW (some BSDs say EMLINK).
    if (code === 'ELOOP' || code === 'EMLINK') return { kind: 'refused', reason: 'not a regular file (symlink)' };
    if (code === 'ENXIO') return { kind: 'refused', reason: 'not a regular file (special file)' };
    if (code === 'EISDIR') return { kind: 'refused', reason: 'not a regular file (directory)' };
    throw err;
  }
  try {
    const st = await fh.stat();
    // Never read a FIFO, device or directory we were handed: reading could block or never end.
    if (!st.isFile()) return { kind: 'refused', reason: `not a regular file (${st.isDirectory() ? 'directory' : 'special file'})` };
    if (st.size > maxBytes) return { kind: 'refused', reason: `file is ${st.size} bytes; the limit is ${maxBytes} bytes (1 MiB)` };
    // One byte over the limit is enough to know a file grew past it while we read.
    const buf = Buffer.allocUnsafe(maxBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, length, buf.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buf.length) break;
    }
    return { kind: 'read', buf: buf.subarray(0, length), st };
  } finally {
    await fh.close();
  }
}

/** Writes JSON atomically (temp + rename), mode 0600. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const dir = dirname(file);
  await ensureDir(dir);
  const tmp = join(dir, `.${basename(file)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}
