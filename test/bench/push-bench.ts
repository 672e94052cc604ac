/**
 * `npm run bench:push -- --cli claude|codex|gemini|all` (`bench:claude-push` is `--cli claude`):
 * idle delivery to a REAL idle agent CLI pane (Claude Code: the pinned devDependency; Codex and
 * Gemini: pinned in scripts/agent-clis.json), in a private tmux server, talking to its scripted
 * stand-in API (the e2e harnesses, through test/helpers/agent-e2e.ts), measured the way a user meets
 * it: from the moment `hornets-tui send` is started (a whole CLI process) to the moment the stand-in
 * receives a turn request carrying the text, with the engine running as its own process
 * (`hornets-tui daemon start`).
 *
 * In the same run, interleaved round by round, the anchors:
 *   - `node -e 0`, whole process: the least any command-line `send` can cost;
 *   - the classic script: `tmux send-keys -l <text>`, sleep 0.5 s, `send-keys Enter` into the same
 *     pane, start -> text at the API. Classic − 500 ms is the CLI's own reaction to typed input
 *     (including the prompt-submit hook hornets installed in that pane, which both paths run).
 * The floor is `node -e 0` + (classic − 500 ms); the figure that matters is hornets p50 / floor.
 *
 * Before every round the agent has sat idle at its prompt for a second (its end-of-turn hook ran
 * and the screen settled), so each round is an idle delivery. Also printed: the `send` process's
 * own wall time and where the rest goes (send exit -> prompt-submit hook -> API request).
 *
 * Flags: --cli claude|codex|gemini|all (default all), --rounds N (default 12), --smoke (one round).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { cliVersion, e2eCliNames, startAgentE2E, type AgentE2E, type E2ECliName } from '../helpers/agent-e2e.js';
import { binPath, cleanEnv } from '../helpers/cli.js';
import { waitFor } from '../helpers/tmux.js';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import type { MessageStore } from '../../src/queue/store.js';
import { numberFlag, parseFlags, sleep } from './bench-util.js';

const SETTLE_MS = 1_000;
const CLASSIC_SLEEP_MS = 500;

function pct(xs: number[], p: number): number {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Runs a process to its end; resolves with the ms from spawn to exit and its exit code. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): { done: Promise<{ ms: number; code: number | null; stderr: string }> } {
  const t0 = Date.now();
  const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => err.push(b));
  return {
    done: new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ ms: Date.now() - t0, code, stderr: Buffer.concat(err).toString('utf8') }));
    }),
  };
}

interface Round {
  node: number;
  classic: number;
  hornets: number;
  sendProcess: number;
  toEnqueued: number;
  enqueuedToNudge: number;
  look: number;
  type: number;
  drawn: number;
  enter: number;
  enterToHook: number;
  hookToApi: number;
  nudges: number;
}

/** The engine's `nudge_sent` log line for a nonce: when it was written and where the typing time went. */
function nudgeLog(file: string, nonce: string): { time: number; typing: { ms: number; lookMs: number; typeMs: number; drawnMs: number; enterMs: number } } | null {
  if (!existsSync(file)) return null;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes(nonce) || !line.includes('"nudge_sent"')) continue;
    try {
      const v = JSON.parse(line) as { time: number | string; typing: { ms: number; lookMs: number; typeMs: number; drawnMs: number; enterMs: number } };
      // Builds before the typing breakdown logged none: their rounds show the totals only.
      if (!v.typing) return null;
      return { time: typeof v.time === 'string' ? Date.parse(v.time) : v.time, typing: v.typing };
    } catch {
      return null;
    }
  }
  return null;
}

async function measure(cli: E2ECliName, rounds: number): Promise<{ version: string; results: Round[] }> {
  const e: AgentE2E = await startAgentE2E(cli);
  const version = cliVersion(e.binary);
  const AGENT = e.agent;
  const env = cleanEnv(e.project.env);
  const tmux = (args: string[]) => spawnSync('tmux', ['-L', e.socket, ...args], { env, encoding: 'utf8' });
  let store: MessageStore | null = null;
  const results: Round[] = [];
  try {
    await e.up();
    await e.project.ok(['daemon', 'start']);
    store = await openSqliteStore(e.project.dbPath, { busyRetryMs: 5_000 });
    const db = store;
    const idle = async () => (await db.getAgent(AGENT))?.state === 'idle';
    const settle = async (what: string) => {
      await waitFor(`${cli} idle ${what}`, idle, 60_000, 20);
      await e.waitForPrompt();
      await sleep(SETTLE_MS);
    };
    const arrival = (before: number, text: string) =>
      waitFor(
        `a turn request carrying "${text}"`,
        () =>
          e
            .turns()
            .slice(before)
            .find((r) => r.text.includes(text)),
        30_000,
        2,
      );
    await settle('after SessionStart');

    for (let i = 0; i < rounds; i++) {
      const round: Partial<Round> = {};
      // Rotate the order so no kind always runs right after the same other one.
      const order = [['node', 'hornets', 'classic'] as const, ['hornets', 'classic', 'node'] as const, ['classic', 'node', 'hornets'] as const][i % 3]!;
      for (const kind of order) {
        if (kind === 'node') {
          const r = await timed(process.execPath, ['-e', '0'], env, e.root).done;
          round.node = r.ms;
          continue;
        }
        await settle(`before ${kind} round ${i}`);
        const text = `bench ${kind} ${i} ${randomBytes(4).toString('hex')}`;
        const before = e.turns().length;
        if (kind === 'classic') {
          const t0 = Date.now();
          tmux(['send-keys', '-t', e.paneId(), '-l', text]);
          await sleep(CLASSIC_SLEEP_MS);
          tmux(['send-keys', '-t', e.paneId(), 'Enter']);
          round.classic = (await arrival(before, text)).at - t0;
          continue;
        }
        const t0 = Date.now();
        const send = timed(process.execPath, [binPath, 'send', AGENT, '--', text], env, e.root);
        const [sent, req] = await Promise.all([send.done, arrival(before, text)]);
        if (sent.code !== 0) throw new Error(`send exited ${sent.code}: ${sent.stderr}`);
        const events = (await db.events({ agent: AGENT, limit: 100 })).filter((ev) => ev.ts >= t0);
        const hook = events.filter((ev) => ev.kind === 'hook:UserPromptSubmit').sort((a, b) => a.ts - b.ts)[0];
        const message = (await db.list({ agent: AGENT, states: ['delivered', 'confirmed', 'queued'], limit: 20, order: 'recent' })).find((m) => m.body === text);
        const sentEvent = events.find((ev) => ev.kind === 'nudge_sent');
        const nonce = typeof sentEvent?.detail?.['nonce'] === 'string' ? sentEvent.detail['nonce'] : null;
        const log = nonce ? nudgeLog(e.logFile, nonce) : null;
        const nudgeStart = log ? log.time - log.typing.ms : NaN;
        round.hornets = req.at - t0;
        round.sendProcess = sent.ms;
        round.toEnqueued = message ? message.createdAt - t0 : NaN;
        round.enqueuedToNudge = message ? nudgeStart - message.createdAt : NaN;
        round.look = log?.typing.lookMs ?? NaN;
        round.type = log?.typing.typeMs ?? NaN;
        round.drawn = log?.typing.drawnMs ?? NaN;
        round.enter = log?.typing.enterMs ?? NaN;
        round.enterToHook = hook && log ? hook.ts - log.time : NaN;
        round.hookToApi = hook ? req.at - hook.ts : NaN;
        round.nudges = events.filter((ev) => ev.kind === 'nudge_sent').length;
        const id = message?.id;
        if (id) await waitFor(`message ${id} confirmed`, async () => (await db.get(id)).state === 'confirmed', 30_000, 20);
      }
      results.push(round as Round);
    }
    return { version, results };
  } catch (err) {
    console.error(e.diagnostics());
    throw err;
  } finally {
    await e.project.run(['daemon', 'stop']).catch(() => undefined);
    await store?.close().catch(() => undefined);
    await e.cleanup();
  }
}

const CLI_LABEL: Record<E2ECliName, string> = { claude: 'Claude Code', codex: 'Codex', gemini: 'Gemini' };

function report(cli: E2ECliName, version: string, results: Round[], load: string): void {
  const rounds = results.length;
  const col = (label: string, xs: number[]) => {
    const f = (x: number) => (Number.isFinite(x) ? `${Math.round(x)}` : '-').padStart(7);
    return `  ${label.padEnd(58)}${f(pct(xs, 50))}${f(pct(xs, 99))}${f(Math.min(...xs))}${f(Math.max(...xs))}`;
  };
  const pick = (k: keyof Round) => results.map((r) => r[k]);
  console.log(`\nidle delivery to a real idle ${CLI_LABEL[cli]} pane (${version}), ${rounds} rounds, interleaved (ms); load ${load}`);
  console.log(`  ${''.padEnd(58)}${'p50'.padStart(7)}${'p99'.padStart(7)}${'min'.padStart(7)}${'max'.padStart(7)}`);
  console.log(col('node -e 0 (whole process)', pick('node')));
  console.log(col(`classic: send-keys text, sleep ${CLASSIC_SLEEP_MS / 1000}, Enter -> API`, pick('classic')));
  console.log(col('hornets: `hornets-tui send` started -> text at the API', pick('hornets')));
  console.log(col('  the `send` process alone', pick('sendProcess')));
  console.log(col('  send started -> message enqueued (CLI start, config, SQLite)', pick('toEnqueued')));
  console.log(col('  enqueued -> engine starts the nudge (poke, delivery pass)', pick('enqueuedToNudge')));
  console.log(col('  nudge: one look at the pane (dead flag + screen)', pick('look')));
  console.log(col('  nudge: line typed (send-keys -l)', pick('type')));
  console.log(col(`  nudge: ${CLI_LABEL[cli]} draws the line`, pick('drawn')));
  console.log(col('  nudge: Enter', pick('enter')));
  console.log(col('  Enter -> prompt-submit hook reaches the engine', pick('enterToHook')));
  console.log(col('  prompt-submit hook -> API request', pick('hookToApi')));
  const floor = pct(pick('node'), 50) + (pct(pick('classic'), 50) - CLASSIC_SLEEP_MS);
  const h50 = pct(pick('hornets'), 50);
  console.log(`\n  floor = node -e 0 p50 + (classic p50 − ${CLASSIC_SLEEP_MS} ms) = ${Math.round(floor)} ms`);
  console.log(`  hornets p50 / floor = ${(h50 / floor).toFixed(2)}× (goal ≤ 1.25×); hornets p50 / classic p50 = ${(h50 / pct(pick('classic'), 50)).toFixed(2)}×`);
  const other = results.filter((r) => r.nudges !== 1).length;
  console.log(`  nudges per message: ${other === 0 ? 'exactly 1 each' : `${other} message(s) took other than 1`}`);
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const smoke = flags.has('smoke');
  const rounds = smoke ? 1 : numberFlag(flags, 'rounds', 12);
  const cliFlag = flags.get('cli') ?? 'all';
  const clis = cliFlag === 'all' ? e2eCliNames : e2eCliNames.filter((c) => c === cliFlag);
  if (clis.length === 0) throw new Error(`--cli expects ${e2eCliNames.join('|')}|all, got ${String(cliFlag)}`);
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(`push bench; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; node ${process.version}; load ${load()}`);
  for (const cli of clis) {
    const started = load();
    const { version, results } = await measure(cli, rounds);
    report(cli, version, results, `${started} -> ${load()}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
