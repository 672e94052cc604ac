/**
 * Tokens and cost per agent (issue 17), read from the transcript the CLI writes (the hook-provided
 * `transcript_path`), only the bytes appended since the last read: the store keeps how far each
 * file was read (offset and inode) in the same write as what was counted, so a daemon restart
 * neither re-reads nor counts twice. A partial last line waits for the next read; a file that
 * shrank or was replaced is read again from its start (message ids keep that from counting twice).
 * Reads are triggered by hooks and coalesced per agent: one read in flight, one more queued. Claude
 * Code writes its transcript lines a moment after the hook of the same step (the last response of a
 * turn lands after its Stop hook), so each hook also sets one follow-up read a little later.
 *
 * The same reader serves Codex (its hooks name the rollout file, `$CODEX_HOME/sessions/…/rollout-*.jsonl`,
 * appended to, a resumed session included) and Gemini CLI (its hooks name the chat recording,
 * `…/.gemini/tmp/<project>/chats/session-*.jsonl`, appended to as well since 0.61.0). A Codex token
 * count carries no model: the model comes from the turn's `turn_context` line before it, kept per
 * file while the engine runs; after an engine restart the first read looks back from its offset
 * to the last `turn_context` (a bounded backwards read, once per file).
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { MessageStore } from '../queue/store.js';
import { modelOfLine, usageOfLine, type AgentUsage, type ModelPrice, type UsageEntry } from '../domain/usage.js';

/** Bytes read per step; a step's entries and cursor are one store write. */
const CHUNK = 1 << 20;
/** A line longer than this (a huge tool result) is skipped unread: usage lines are small. */
const MAX_LINE = 16 << 20;
/** How far back from its offset a first read looks for the model a Codex rollout last set. */
const MODEL_LOOKBACK = 8 << 20;

/** Codex names its rollout files so; only they set a model on a line of its own. */
const isCodexRollout = (file: string): boolean => path.basename(file).startsWith('rollout-');

export interface UsageTrackerOptions {
  store: MessageStore;
  log: Logger;
  prices: () => Readonly<Record<string, ModelPrice>>;
  /** After a read that counted something: the agent's new totals (the budget policy runs on them). */
  onUsage?: (usage: AgentUsage) => void;
  /** The follow-up read after a hook's (default 1500 ms); 0: none. */
  settleMs?: number;
}

export class UsageTracker {
  private readonly running = new Map<string, Promise<void>>();
  /** Per agent, the transcripts to read after the read in flight. */
  private readonly pending = new Map<string, Set<string>>();
  /** Per agent and transcript, the follow-up read's timer. */
  private readonly followUps = new Map<string, NodeJS.Timeout>();
  /** Per agent and transcript, the model its lines so far set (Codex's turn_context), as of the cursor. */
  private readonly models = new Map<string, string | null>();
  private stopped = false;

  constructor(private readonly o: UsageTrackerOptions) {}

  /** A hook named this transcript: read what was appended to it (soon, not in the hook's time). */
  note(agent: string, transcript: string): void {
    if (!path.isAbsolute(transcript) || this.stopped) return;
    this.queue(agent, transcript);
    const settle = this.o.settleMs ?? 1500;
    if (settle <= 0) return;
    const key = `${agent}\0${transcript}`;
    clearTimeout(this.followUps.get(key));
    const t = setTimeout(() => {
      this.followUps.delete(key);
      if (!this.stopped) this.queue(agent, transcript);
    }, settle);
    t.unref();
    this.followUps.set(key, t);
  }

  /** No more reads: timers cleared; idle() then waits for the reads in flight. */
  stop(): void {
    this.stopped = true;
    for (const t of this.followUps.values()) clearTimeout(t);
    this.followUps.clear();
    this.pending.clear();
  }

  private queue(agent: string, transcript: string): void {
    let set = this.pending.get(agent);
    if (!set) this.pending.set(agent, (set = new Set()));
    set.add(transcript);
    if (!this.running.has(agent)) this.drain(agent);
  }

  /** Resolves when no read is in flight or queued for the agent (tests, shutdown). */
  async idle(agent?: string): Promise<void> {
    for (;;) {
      const busy = agent === undefined ? [...this.running.values()] : [this.running.get(agent)].filter((p): p is Promise<void> => p !== undefined);
      if (busy.length === 0) return;
      await Promise.all(busy);
    }
  }

  private drain(agent: string): void {
    const run = (async () => {
      for (;;) {
        const files = this.pending.get(agent);
        if (!files || files.size === 0) break;
        this.pending.delete(agent);
        for (const f of files) {
          try {
            const usage = await this.readNew(agent, f);
            if (usage) this.o.onUsage?.(usage);
          } catch (err) {
            this.o.log.warn({ event: 'usage_read_failed', agent, transcript: f, error: err instanceof Error ? err.message : String(err) }, 'could not read usage from a transcript');
          }
        }
      }
    })();
    this.running.set(agent, run);
    void run.finally(() => {
      this.running.delete(agent);
      if (this.pending.get(agent)?.size) this.drain(agent);
    });
  }

  /** Reads the transcript from where the store says the last read stopped; returns the totals when something was counted. */
  async readNew(agent: string, file: string): Promise<AgentUsage | null> {
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) return null;
    const cursor = await this.o.store.usageCursor(agent, file);
    let offset = cursor && cursor.ino === st.ino && cursor.offset <= st.size ? cursor.offset : 0;
    if (cursor && offset === 0 && cursor.offset > 0) this.o.log.info({ event: 'usage_transcript_restart', agent, transcript: file }, 'transcript shrank or was replaced: reading it from its start');
    if (offset === st.size && cursor) return null;
    // From the first byte, a transcript may open with copies of lines counted long ago (a fork, a
    // resume into a new file) or be an old one rewritten: the store keeps pruned ids from counting twice.
    const fromStart = offset === 0;
    const session = path.basename(file).replace(/\.jsonl$/, '');
    const prices = this.o.prices();
    let last: AgentUsage | null = null;
    const key = `${agent}\0${file}`;
    const fh = await open(file, 'r');
    try {
      let model: string | null = null;
      if (offset > 0 && isCodexRollout(file)) model = this.models.has(key) ? this.models.get(key)! : await this.modelBefore(fh, offset);
      let carry = Buffer.alloc(0);
      let pos = offset;
      while (pos < st.size) {
        const want = Math.min(CHUNK, st.size - pos);
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        const data = carry.length ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
        const nl = data.lastIndexOf(0x0a);
        if (nl < 0) {
          // No whole line yet: keep it unless it is absurdly long (then skip it whole).
          if (data.length > MAX_LINE) {
            carry = Buffer.alloc(0);
            offset = pos;
          } else carry = Buffer.from(data);
          continue;
        }
        const entries: UsageEntry[] = [];
        for (const line of data.subarray(0, nl).toString('utf8').split('\n')) {
          model = modelOfLine(line) ?? model;
          entries.push(...usageOfLine(line, prices, session, model));
        }
        carry = Buffer.from(data.subarray(nl + 1));
        offset = pos - carry.length;
        const totals = await this.o.store.recordUsage(agent, { entries, cursor: { file, offset, ino: st.ino }, fromStart });
        if (isCodexRollout(file)) this.models.set(key, model);
        if (entries.length > 0) last = totals;
      }
      if (!cursor && last === null) await this.o.store.recordUsage(agent, { entries: [], cursor: { file, offset, ino: st.ino } });
    } finally {
      await fh.close();
    }
    return last;
  }

  /** The model the last `turn_context` before `end` set, reading backwards (at most MODEL_LOOKBACK bytes). */
  private async modelBefore(fh: Awaited<ReturnType<typeof open>>, end: number): Promise<string | null> {
    let pos = end;
    let tail = Buffer.alloc(0);
    while (pos > 0 && end - pos < MODEL_LOOKBACK) {
      const want = Math.min(CHUNK, pos);
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, pos - want);
      if (bytesRead !== want) return null;
      pos -= want;
      const data = Buffer.concat([buf, tail]);
      // Whole lines only: the part before the first newline may be cut (kept for the next step back).
      const first = pos === 0 ? -1 : data.indexOf(0x0a);
      if (pos > 0 && first < 0) {
        tail = data;
        if (tail.length > MAX_LINE) return null;
        continue;
      }
      const lines = data
        .subarray(first + 1)
        .toString('utf8')
        .split('\n');
      for (let i = lines.length - 1; i >= 0; i--) {
        const m = modelOfLine(lines[i]!);
        if (m !== null) return m;
      }
      tail = Buffer.from(data.subarray(0, first + 1));
    }
    return null;
  }
}
