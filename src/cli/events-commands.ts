/**
 * `events` and `wait` (issue 17): the engine's event stream for people and scripts. History comes
 * from the store's event log; `--follow` and `wait` subscribe to the engine's stream (GET /events
 * on its 127.0.0.1 endpoint, engine-client/event-stream.ts), so they react to what happens instead
 * of polling.
 */
import { NoEngineError, UsageError } from '../errors.js';
import { parseDuration } from '../domain/duration.js';
import { eventKey, feedEvent, formatEvent, parseSince, parseWaitFor, waitVerdict, type FeedEvent, type WaitTarget } from '../domain/agent-events.js';
import { openEventStream, type EventStream } from '../engine-client/event-stream.js';
import type { ProjectContext } from '../services/context.js';
import type { Output } from './output.js';
import { projectOpener, type GlobalOptions } from './queue-commands.js';

const DEFAULT_HISTORY = 100;
const SINCE_HISTORY = 100_000;

function checkAgent(ctx: ProjectContext, agent: string): void {
  const names = ctx.project.config.agents.map((a) => a.name);
  if (!names.includes(agent)) throw new UsageError(`unknown agent "${agent}" (agents: ${names.join(', ') || 'none'})`);
}

function noEngine(what: string): NoEngineError {
  return new NoEngineError(`no engine is running: ${what} follows the engine's event stream; start it with \`hornets-tui daemon start\` (or \`hornets-tui up\`)`);
}

async function history(ctx: ProjectContext, agent: string | undefined, since: number | null, limit: number): Promise<FeedEvent[]> {
  const agents = agent ? [agent] : ctx.project.config.agents.map((a) => a.name);
  const all: FeedEvent[] = [];
  for (const a of agents) all.push(...(await ctx.store.events({ agent: a, limit: since === null ? limit : SINCE_HISTORY })).map(feedEvent));
  const kept = all.filter((e) => since === null || e.ts >= since).sort((x, y) => x.ts - y.ts);
  return since === null ? kept.slice(-limit) : kept;
}

export async function eventsCommand(o: Output, g: GlobalOptions, opts: { follow?: boolean; json?: boolean; agent?: string; since?: string; limit?: string }): Promise<void> {
  const since = opts.since === undefined ? null : parseSince(opts.since, Date.now());
  const limit = opts.limit === undefined ? DEFAULT_HISTORY : Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`invalid --limit "${opts.limit}": a whole number above zero`);
  const print = (e: FeedEvent) => o.out(opts.json ? JSON.stringify(e) : formatEvent(e));
  const ctx = await projectOpener(g)('events');
  let stream: EventStream | null = null;
  const early: FeedEvent[] = [];
  let live: ((e: FeedEvent) => void) | null = null;
  try {
    if (opts.agent !== undefined) checkAgent(ctx, opts.agent);
    if (opts.follow) {
      // Subscribed before the history is read: what happens meanwhile is in one or the other.
      stream = await openEventStream(ctx.project.paths.root, opts.agent ?? null, (e) => (live ? live(e) : early.push(e)));
      if (!stream) throw noEngine('`events --follow`');
    }
    const past = await history(ctx, opts.agent, since, limit);
    for (const e of past) print(e);
    if (!stream) return;
    const printed = new Set(past.map(eventKey));
    for (const e of early) if (!printed.has(eventKey(e))) print(e);
    live = print;
  } finally {
    await ctx.close();
  }
  await stream.ended;
  o.err('hornets-tui: the engine stopped; the event stream ended');
  process.exitCode = 1;
}

async function waitFacts(ctx: ProjectContext, agent: string, target: WaitTarget) {
  const record = await ctx.store.getAgent(agent);
  const message = target.kind === 'confirmed' ? await ctx.store.get(target.message) : null;
  return { state: record?.state ?? null, paused: record?.paused ?? false, message: message ? { agent: message.agent, state: message.state } : null };
}

/**
 * `wait <agent> --for …`: exit 0 when it holds (at once if it already does), 1 on timeout (or when
 * it never can: the message ended unconfirmed), 2 on a usage error, 3 when no engine runs to
 * follow.
 */
export async function waitCommand(o: Output, g: GlobalOptions, agent: string, opts: { for?: string; timeout?: string }): Promise<void> {
  if (opts.for === undefined) throw new UsageError('wait needs --for: idle, needs-input, confirmed:<message id> or state:<state>');
  const target = parseWaitFor(opts.for);
  const timeoutMs = opts.timeout === undefined ? null : parseDuration(opts.timeout, '--timeout');
  const ctx = await projectOpener(g)('wait');
  let stream: EventStream | null = null;
  try {
    checkAgent(ctx, agent);
    if (target.kind === 'confirmed') {
      // Unknown id: a usage error (the store says which); another agent's message: one too.
      const m = await ctx.store.get(target.message);
      if (m.agent !== agent) throw new UsageError(`message ${m.id} is for ${m.agent}, not ${agent}`);
      target.message = m.id;
    }
    let wake: () => void = () => undefined;
    // Subscribed before the first look: a change right after it is not missed.
    stream = await openEventStream(ctx.project.paths.root, agent, () => wake());
    const outcome = await new Promise<'done' | 'timeout' | 'ended' | { never: string }>((resolve) => {
      let checking = false;
      let again = false;
      const check = async (): Promise<void> => {
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        try {
          do {
            again = false;
            const v = waitVerdict(target, await waitFacts(ctx, agent, target));
            if (v.done) return resolve('done');
            if (v.never) return resolve({ never: v.never });
          } while (again);
        } finally {
          checking = false;
        }
      };
      wake = () => void check().catch(() => undefined);
      if (timeoutMs !== null) setTimeout(() => resolve('timeout'), timeoutMs).unref();
      void check().then(() => {
        if (!stream) resolve('ended');
      });
      void stream?.ended.then(() => resolve('ended'));
    });
    if (outcome === 'done') return;
    const now = await waitFacts(ctx, agent, target);
    const where = target.kind === 'confirmed' ? `message ${target.message} is ${now.message?.state ?? 'unknown'}` : `${agent} is ${now.paused ? 'paused' : now.state}`;
    if (outcome === 'ended') {
      if (!stream) throw noEngine('`wait`');
      o.err(`hornets-tui: the engine stopped while waiting for ${agent} (${target.text}); ${where}`);
    } else if (outcome === 'timeout') o.err(`hornets-tui: timed out after ${opts.timeout} waiting for ${agent} (${target.text}); ${where}`);
    else o.err(`hornets-tui: ${outcome.never}`);
    process.exitCode = 1;
  } finally {
    stream?.close();
    await ctx.close();
  }
}
