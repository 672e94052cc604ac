/**
 * Command-hook entry point (`bin/hornets-hook.js <Event>`), the path that works with no daemon: it
 * opens the database itself. Whatever happens it exits 0, and prints only a complete reply: a hook
 * must never break or block the agent it runs in.
 */
import { readSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteStore } from '../queue/sqlite/sqlite-store.js';
import { readStoreRecord } from '../config/store-record.js';
import { HookHandler } from './handlers.js';
import { readBriefing } from './briefing.js';
import { hookLog } from './hook-log.js';
import { HOOK_TOKEN_ENV, parseGeneration, readAgentKey, verifyAgentCredential } from './credentials.js';
import { protocolForArg } from './protocols.js';
import { recordRunHook } from './run-hook.js';

const MAX_STDIN = 8 * 1024 * 1024;
/**
 * Below the shortest hook timeout we install (10 s), less the 2 s the bash client may have waited
 * for a hung daemon before handing over to us: we give up before Claude Code kills us.
 */
const DEADLINE_MS = 7_000;
/** A Redis project's SessionStart waits this long (from the hook's start) for its node's engine. */
const HANDOVER_MS = 6_000;
/** ...of which this long for an engine process to appear at all (`up` launches it beside the agents). */
const ENGINE_GRACE_MS = 3_000;

/**
 * git (and with it node:child_process) only for the events that snapshot it: the bundle evaluates
 * that module on first use, so a PostToolUse never pays for it.
 */
const lazyGitInfo = (cwd: string) => import('./git-info.js').then((m) => m.gitInfo(cwd));

function readStdin(): string | null {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        // Non-blocking stdin with nothing yet: wait a little instead of spinning a core.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      if ((err as NodeJS.ErrnoException).code === 'EOF') break;
      throw err;
    }
    if (n === 0) break;
    total += n;
    if (total > MAX_STDIN) return null;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function main(argv: string[]): Promise<void> {
  const event = argv[2] ?? '';
  // The word after the event in the hook command: which CLI runs us (none: Claude Code).
  const protocol = protocolForArg(argv[3]);
  const agent = process.env.HORNETS_AGENT_ID;
  // A task worker's one-shot run (issue 14): its hooks report to the run's own directory, which
  // the engine reads as it reads the run's other files; it holds no agent credential and touches
  // no queue.
  const runDir = process.env.HORNETS_RUN_DIR;
  if (!agent && runDir && process.env.HORNETS_TASK_ID) {
    const text = readStdin();
    recordRunHook(runDir, event, protocol, text);
    return;
  }
  // Not one of ours (a user's own Claude session in the same tree): do nothing at all.
  if (!agent) return;
  const home = process.env.HORNETS_HOME;
  const log = hookLog(home, { agent, event });
  const started = Date.now();
  const timer = setTimeout(() => {
    log.error({ event_name: event, ms: Date.now() - started }, 'hook deadline passed; exiting without output');
    process.exit(0);
  }, DEADLINE_MS);
  timer.unref();
  try {
    if (!home) throw new Error('HORNETS_HOME is not set');
    const text = readStdin();
    if (text === null) {
      log.warn({ outcome: 'payload too large' }, `hook payload over ${MAX_STDIN} bytes ignored`);
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      log.warn({ outcome: 'malformed payload', bytes: text.length }, 'hook stdin is not JSON; ignored');
      return;
    }
    // The same check the engine makes: this process may open any agent's queue, so it acts only
    // for the agent generation whose credential it was started with.
    const generation = parseGeneration(process.env.HORNETS_GENERATION);
    const key = readAgentKey(home);
    if (generation === null || !key || !verifyAgentCredential(key, agent, generation, process.env[HOOK_TOKEN_ENV] ?? '')) {
      log.warn(
        { outcome: 'refused: no valid credential' },
        `hook refused: ${generation === null ? 'no HORNETS_GENERATION' : !key ? 'no agent key in the state directory' : `${HOOK_TOKEN_ENV} is not this agent generation's`}`,
      );
      return;
    }
    if (readStoreRecord(home, join(home, 'hornets.db'))?.kind === 'redis') {
      // The queue is in Redis and only the node's engine holds its address and password: a hook
      // never talks to Redis itself. A session's start (its briefing, its first messages) waits for
      // an engine that is starting; any other event leaves its messages to the engine (leases
      // lapse, nothing is lost).
      if (event !== 'SessionStart') {
        log.warn({ outcome: 'engine down, queue in redis' }, 'hook: the engine is not running and the queue is in Redis; messages wait for the engine');
        return;
      }
      const { handOverToEngine } = await import('./engine-handover.js');
      const outcome = await handOverToEngine({
        home,
        event,
        protocolArg: protocol.arg,
        payload: text,
        agent,
        generation,
        credential: process.env[HOOK_TOKEN_ENV] ?? '',
        deadline: started + HANDOVER_MS,
        graceMs: ENGINE_GRACE_MS,
        write: (out) => new Promise<void>((resolve, reject) => process.stdout.write(out, (err) => (err ? reject(err) : resolve()))),
      });
      const line = { outcome: `queue in redis: ${outcome}`, ms: Date.now() - started };
      if (outcome === 'handed over') log.info(line, 'hook: handed to the engine once it listened');
      else log.warn(line, `hook: ${outcome}; the briefing and messages wait for the engine`);
      return;
    }
    // Never closed: closing the last connection checkpoints the WAL into the database and deletes
    // it, and the next hook then creates it anew, two fsyncs and a directory sync on every tool
    // round while no engine runs. The bin exits the process as soon as this returns; what was
    // committed is in the WAL, which the next opener replays (kept short by the low checkpoint
    // threshold).
    const store = await openSqliteStore(join(home, 'hornets.db'), { busyTimeoutMs: 1_000, busyRetryMs: 3_000, optimizeOnClose: false, walAutocheckpointPages: 64 });
    const handler = new HookHandler({
      store,
      agent,
      generation,
      now: Date.now,
      briefing: () => readBriefing(process.env.HORNETS_CONFIG, agent),
      git: lazyGitInfo,
      deferAck: true,
      protocol,
    });
    const reply = await handler.handle(event, payload);
    if (reply.stdout) await new Promise<void>((resolve, reject) => process.stdout.write(reply.stdout, (err) => (err ? reject(err) : resolve())));
    // Written, so now it counts as delivered; killed before this line, the lease lapses and the
    // message is given again.
    if (reply.ackToken) await store.ack({ leaseToken: reply.ackToken, ids: reply.delivered, sessionId: null, agent });
    log.info({ outcome: reply.outcome, delivered: reply.delivered, ms: Date.now() - started }, 'hook handled');
  } catch (err) {
    const e = err as { code?: string; message?: string };
    log.error({ outcome: 'error', code: e?.code, error: e?.message ?? String(err), ms: Date.now() - started }, 'hook failed; agent unaffected');
  }
}
