/**
 * `npm run bench:claude-push`: idle push to a REAL idle Claude Code pane (the pinned
 * devDependency, in a private tmux server, talking to scripts/fake-messages-api.ts).
 *
 * With the daemon running (in process) and the agent idle at its prompt, a message is enqueued
 * (QueueService.send, which pokes the daemon); the clock stops when the fake API records a main
 * request that contains the message text — the message reached the model. Between messages the
 * bench waits for the agent to be idle again (its Stop hook sets state idle) and the message to be
 * confirmed; a second round of messages waits a further second, so the agent has sat at its prompt
 * (the first round catches Claude Code still redrawing its last turn, when a nudge is refused as
 * busy and re-tried 150 ms later). Prints p50/p99 of the whole path and of its two halves:
 *   enqueue -> UserPromptSubmit hook (daemon wakes, types the one-line nudge, Claude Code submits it)
 *   UserPromptSubmit hook -> API request (the hook hands the message over as additionalContext).
 *
 * Flags: --messages N per round (default 20).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { AGENT, ClaudeE2E, claudeBin, claudeRuns, newText } from '../helpers/claude-e2e.js';
import { cleanEnv } from '../helpers/cli.js';
import { waitFor } from '../helpers/tmux.js';
import { openProject, type ProjectContext } from '../../src/services/context.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { QueueService } from '../../src/services/queue-service.js';
import { numberFlag, parseFlags, sleep } from './bench-util.js';

const SETTLE_MS = 1_000;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

interface Sample {
  settled: boolean;
  total: number;
  toHook: number;
  hookToApi: number;
  nudges: number;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const n = numberFlag(flags, 'messages', 20);
  if (!claudeRuns()) throw new Error(`${claudeBin} does not run here: \`npm ci\` installs the pinned @anthropic-ai/claude-code`);
  const version = spawnSync(claudeBin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`claude push bench; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; node ${process.version}; Claude Code ${version}; load ${loadavg()[0]!.toFixed(2)}`);

  const e = await ClaudeE2E.create(() => ({ text: 'ok' }));
  const savedSocket = process.env.HORNETS_TMUX_SOCKET;
  let ctx: ProjectContext | null = null;
  let daemon: Daemon | null = null;
  const samples: Sample[] = [];
  try {
    await e.up();
    // The in-process engine types into the e2e project's private tmux server.
    process.env.HORNETS_TMUX_SOCKET = e.socket;
    ctx = await openProject({ configPath: join(e.root, 'hornets.json'), env: cleanEnv() });
    daemon = new Daemon(ctx, { reconcileMs: 5_000 });
    await daemon.start();
    const store = ctx.store;
    const svc = new QueueService(ctx.project, store, ctx.log);
    const idle = async () => (await store.getAgent(AGENT))?.state === 'idle';
    await waitFor('cc idle after SessionStart', idle, 60_000, 20);

    for (let i = 0; i < 2 * n; i++) {
      await waitFor(`cc idle before message ${i}`, idle, 60_000, 20);
      // Second half: the agent has sat at its prompt for a second (no redraw of the last turn left).
      const settled = i >= n;
      if (settled) await sleep(SETTLE_MS);
      const before = e.mainRequests().length;
      const text = `bench push ${i} ${randomBytes(4).toString('hex')}`;
      const { message } = await svc.send(AGENT, text, { sender: 'bench' });
      const t0 = message.createdAt;
      const req = await waitFor(
        `a main request carrying "${text}"`,
        () =>
          e
            .mainRequests()
            .slice(before)
            .find((r) => newText(r).includes(text)),
        30_000,
        5,
      );
      const events = (await store.events({ agent: AGENT, limit: 100 })).filter((ev) => ev.ts >= t0);
      const hook = events.filter((ev) => ev.kind === 'hook:UserPromptSubmit').sort((a, b) => a.ts - b.ts)[0];
      samples.push({
        settled,
        total: req.at - t0,
        toHook: hook ? hook.ts - t0 : NaN,
        hookToApi: hook ? req.at - hook.ts : NaN,
        nudges: events.filter((ev) => ev.kind === 'nudge_sent').length,
      });
      // The turn ends (Stop -> idle) and the message is confirmed before the next one goes.
      await waitFor(`message ${i} confirmed`, async () => (await store.get(message.id)).state === 'confirmed', 30_000, 20);
    }
  } catch (err) {
    console.error(e.diagnostics());
    throw err;
  } finally {
    await daemon?.stop().catch(() => undefined);
    await ctx?.close().catch(() => undefined);
    await e.cleanup();
    if (savedSocket === undefined) delete process.env.HORNETS_TMUX_SOCKET;
    else process.env.HORNETS_TMUX_SOCKET = savedSocket;
  }

  const row = (label: string, xs: number[]) => {
    const v = xs.filter(Number.isFinite);
    const f = (x: number) => `${Math.round(x)}`.padStart(6);
    return `  ${label.padEnd(44)}${f(pct(v, 50))}${f(pct(v, 99))}${f(Math.min(...v))}${f(Math.max(...v))}`;
  };
  console.log(`\nidle push to a real idle Claude Code pane: enqueue -> main API request carrying the text (ms)`);
  console.log(`  ${''.padEnd(44)}${'p50'.padStart(6)}${'p99'.padStart(6)}${'min'.padStart(6)}${'max'.padStart(6)}`);
  for (const [title, group] of [
    [`enqueued as the agent goes idle (Stop hook), ${n} messages`, samples.filter((s) => !s.settled)],
    [`agent idle at its prompt for ${SETTLE_MS / 1000} s, ${n} messages`, samples.filter((s) => s.settled)],
  ] as const) {
    console.log(`  ${title}`);
    console.log(
      row(
        '  enqueue -> message reaches the model',
        group.map((s) => s.total),
      ),
    );
    console.log(
      row(
        '    enqueue -> UserPromptSubmit (nudge typed)',
        group.map((s) => s.toHook),
      ),
    );
    console.log(
      row(
        '    UserPromptSubmit -> API request',
        group.map((s) => s.hookToApi),
      ),
    );
  }
  const other = samples.filter((s) => s.nudges !== 1).length;
  console.log(`  nudges per message: ${other === 0 ? 'exactly 1 each' : `${other} message(s) took other than 1`}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
