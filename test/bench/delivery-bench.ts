/**
 * `npm run bench:delivery`: the seeds' four delivery modes (seed 000, "Mode Comparison") as hornets
 * configures them (README, "Delivery modes"), each measured from enqueue to the text reaching the
 * agent, printed in the seed's table shape beside the seed's figures.
 *
 * Every mode is its own project with one demo agent (the scripted stand-in that speaks Claude
 * Code's hook protocol and writes everything it receives, with a timestamp, to its transcript) and
 * its engine as its own process (`hornets-tui daemon run`), all on private tmux servers:
 *   - polling:      `watch.mode "poll"`, interval 1 s (the seed's rate), push delivery to an agent
 *                   without hooks (the demo profile with `hooks.kind "none"`, as the seed's workers)
 *   - event-driven: `watch.mode "events"` (inotify), push delivery to the same hook-less agent
 *   - hooks:        `delivery "hooks"`: nothing is typed; the agent's own hooks pull the message
 *   - hybrid:       `delivery "hybrid"`: the hooks, plus one push nudge when the agent is idle
 * Enqueue is the seeds' own: the orchestrator renames a trigger file into the agent's trigger
 * directory (.hornets/triggers/<agent>/<name>.trigger). The push modes and hybrid measure an idle
 * agent; hooks measures an agent in a turn (hooks-only delivery reaches an idle agent only when
 * something else starts a turn): the file lands once the turn is under way, and the text arrives
 * beside the turn's next tool result (the demo agent runs its tool `--work-ms`/2 into the turn) or,
 * if it missed that, at the end of the turn.
 *
 * Anchor, in the same run, interleaved: `tmux send-keys -l <text>` then `send-keys Enter` into an
 * idle demo pane, to the text in its transcript: the least any typed delivery can take here.
 *
 * With real Claude Code (the pinned devDependency; `--no-claude` leaves it out), the hooks mode once
 * more: the trigger file lands while Claude Code runs a Bash tool round (when its turn request
 * reaches the stand-in API), to the request carrying the text; beside it the same tool round with
 * no message waiting, interleaved.
 *
 * Also the seed's "CPU (idle)" row: each mode's engine process over `--idle` seconds, all idle at
 * once.
 *
 * Flags: --rounds N (default 20), --claude-rounds N (default 8), --work-ms N (demo agent's turn,
 * default 400), --idle S (default 10), --no-claude, --smoke (two rounds, no Claude, 1 s idle: checks
 * the script).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { cpuTicks, exited, makeTempDir, numberFlag, parseFlags, percentile, removeDir, sleep } from './bench-util.js';
import { Project, binPath, cleanEnv } from '../helpers/cli.js';
import { capture, initGitRepo, killServer, randomSocket, waitFor } from '../helpers/tmux.js';
import { builtinProfilesDir } from '../../src/config/paths.js';
import { ClaudeE2E, claudeBin, claudeRuns, hasToolResult, newText } from '../helpers/claude-e2e.js';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import type { MessageStore } from '../../src/queue/store.js';

const flags = parseFlags(process.argv.slice(2));
const SMOKE = flags.has('smoke');
const ROUNDS = SMOKE ? 2 : numberFlag(flags, 'rounds', 20);
const CLAUDE_ROUNDS = numberFlag(flags, 'claude-rounds', 8);
const WORK_MS = numberFlag(flags, 'work-ms', 400);
const IDLE_S = SMOKE ? 1 : numberFlag(flags, 'idle', 10);
const WITH_CLAUDE = !SMOKE && !flags.has('no-claude');
const AGENT = 'd';

interface ModeSpec {
  key: 'polling' | 'event' | 'hooks' | 'hybrid';
  title: string;
  /** The seed's latency and idle CPU, as its table prints them. */
  seedLatency: string;
  seedCpu: string;
  settings: string;
  /** `demo-nohooks`: the demo agent without hooks (the seeds' polling and event-driven workers had none). */
  config: { profile: 'demo' | 'demo-nohooks'; delivery: 'push' | 'hooks' | 'hybrid'; watch?: Record<string, string> };
}

const MODES: ModeSpec[] = [
  {
    key: 'polling',
    title: 'Polling',
    seedLatency: '~1s',
    seedCpu: '~2%',
    settings: 'watch poll 1s, push (agent without hooks)',
    config: { profile: 'demo-nohooks', delivery: 'push', watch: { mode: 'poll', interval: '1s' } },
  },
  {
    key: 'event',
    title: 'Event-Driven',
    seedLatency: '<10ms',
    seedCpu: '~0%',
    settings: 'watch events, push (agent without hooks)',
    config: { profile: 'demo-nohooks', delivery: 'push', watch: { mode: 'events' } },
  },
  { key: 'hooks', title: 'Hooks', seedLatency: '<100ms', seedCpu: '~1%', settings: 'watch events, delivery hooks', config: { profile: 'demo', delivery: 'hooks', watch: { mode: 'events' } } },
  { key: 'hybrid', title: 'Hybrid', seedLatency: '<10ms', seedCpu: '~0%', settings: 'watch events, delivery hybrid', config: { profile: 'demo', delivery: 'hybrid', watch: { mode: 'events' } } },
];

interface TranscriptLine {
  ts: number;
  type: string;
  text: string;
}

/** One mode's project: its engine process, its agent's pane and transcript. */
interface ModeTeam {
  spec: ModeSpec;
  dir: string;
  socket: string;
  project: Project;
  engine: ChildProcess;
  paneId: string;
  transcript: string;
  store: MessageStore;
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function readTranscript(file: string): TranscriptLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TranscriptLine);
}

/** The first transcript line carrying `needle`, polled every 2 ms (the demo agent stamps the time it received it). */
function arrival(team: ModeTeam, needle: string, timeoutMs = 30_000): Promise<TranscriptLine> {
  return waitFor(`"${needle}" in ${team.spec.key}'s transcript`, () => readTranscript(team.transcript).find((l) => l.text.includes(needle)), timeoutMs, 2);
}

/** The seeds' enqueue: a trigger file written aside and renamed into the agent's trigger directory. Returns when it landed. */
function dropTrigger(root: string, body: string, agent = AGENT): number {
  const dir = join(root, '.hornets', 'triggers', agent);
  mkdirSync(dir, { recursive: true });
  const name = `bench-${randomBytes(4).toString('hex')}`;
  const aside = join(dir, `.${name}.tmp`);
  writeFileSync(aside, JSON.stringify({ message: body, from: 'bench' }));
  const t0 = Date.now();
  renameSync(aside, join(dir, `${name}.trigger`));
  return t0;
}

async function startTeam(spec: ModeSpec): Promise<ModeTeam> {
  const dir = makeTempDir(`hornets-delivery-${spec.key}-`);
  const socket = randomSocket();
  initGitRepo(dir);
  // The shipped demo profile with its hooks taken out: state from the screen, every message typed.
  const demo = JSON.parse(readFileSync(join(builtinProfilesDir(), 'demo.json'), 'utf8')) as Record<string, unknown>;
  delete demo.$schema;
  mkdirSync(join(dir, 'profiles'));
  writeFileSync(join(dir, 'profiles', 'demo-nohooks.json'), JSON.stringify({ ...demo, name: 'demo-nohooks', delivery: 'push', hooks: { kind: 'none' } }, null, 2));
  writeFileSync(
    join(dir, 'hornets.json'),
    JSON.stringify(
      {
        project: `delivery-${spec.key}`,
        profilesDir: 'profiles',
        watch: spec.config.watch,
        agents: [{ name: AGENT, profile: spec.config.profile, delivery: spec.config.delivery, env: { HORNETS_DEMO_WORK_MS: String(WORK_MS) } }],
      },
      null,
      2,
    ),
  );
  writeFileSync(join(dir, '.gitignore'), '.hornets/\n');
  const project = new Project(dir, { HORNETS_TMUX_SOCKET: socket, TMUX: undefined, TMUX_PANE: undefined });
  await project.ok(['up', '--no-engine', '--json']);
  const status = JSON.parse((await project.ok(['status', '--json'])).stdout) as { name: string; paneId: string | null }[];
  const paneId = status.find((s) => s.name === AGENT)?.paneId;
  if (!paneId) throw new Error(`${spec.key}: status shows no pane for ${AGENT}`);
  const engine = spawn(process.execPath, [binPath, 'daemon', 'run'], { cwd: dir, env: cleanEnv(project.env), stdio: 'ignore' });
  await waitFor(`${spec.key}'s engine`, () => existsSync(join(dir, '.hornets', 'run', 'hook-endpoint')), 30_000, 20);
  const store = await openSqliteStore(project.dbPath, { busyRetryMs: 5_000 });
  return { spec, dir, socket, project, engine, paneId, transcript: join(dir, '.hornets', 'demo', `${AGENT}.jsonl`), store };
}

async function stopTeam(t: ModeTeam): Promise<void> {
  await t.store.close().catch(() => undefined);
  t.engine.kill('SIGTERM');
  await Promise.race([exited(t.engine), sleep(10_000)]);
  t.engine.kill('SIGKILL');
  await killServer(t.socket, 10_000).catch(() => undefined);
  await sleep(500); // the agent's last hook processes may still write logs there
  removeDir(t.dir);
}

/** The demo agent's screen ends in its bare prompt: no turn running, nothing typed. */
function atPrompt(t: ModeTeam): boolean {
  const lines = capture(t.socket, t.paneId)
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean);
  return lines[lines.length - 1] === 'demo>';
}

/**
 * The agent sits at its prompt with nothing in flight: idle in the engine's eyes, nothing queued,
 * its prompt on screen (a hook-less agent's turn leaves no other trace), and still so a moment later.
 */
async function settle(t: ModeTeam): Promise<void> {
  for (;;) {
    await waitFor(
      `${t.spec.key} idle`,
      async () => (await t.store.getAgent(AGENT))?.state === 'idle' && (await t.store.list({ agent: AGENT, states: ['queued', 'leased'], limit: 1 })).length === 0 && atPrompt(t),
      60_000,
      20,
    );
    await sleep(300);
    if (atPrompt(t)) return;
  }
}

const tmuxKeys = (t: ModeTeam, args: string[]) => spawnSync('tmux', ['-L', t.socket, 'send-keys', '-t', t.paneId, ...args], { env: cleanEnv(t.project.env) });

interface ModeRound {
  ms: number;
  /** Where the text arrived: typed prompt, hook context (prompt submit), beside a tool result, at the end of a turn. */
  path: string;
}

async function modeRound(t: ModeTeam, i: number): Promise<ModeRound> {
  await settle(t);
  const nonce = randomBytes(4).toString('hex');
  const body = `delivery bench ${t.spec.key} ${i} ${nonce}`;
  if (t.spec.key === 'hooks') {
    // Hooks-only delivery needs a turn: the user starts one, and the file lands once the agent
    // works (its prompt-submit hook has run, the spinner shows), to be picked up by the next hook.
    const go = `turn ${nonce}`;
    tmuxKeys(t, ['-l', go]);
    tmuxKeys(t, ['Enter']);
    await arrival(t, go);
    await waitFor(`${t.spec.key} working`, () => capture(t.socket, t.paneId).includes('working…'), 10_000, 2);
  }
  const t0 = dropTrigger(t.dir, body);
  const line = await arrival(t, body);
  return { ms: line.ts - t0, path: line.type };
}

async function anchorRound(t: ModeTeam, i: number): Promise<number> {
  await settle(t);
  const text = `anchor ${i} ${randomBytes(4).toString('hex')}`;
  const t0 = Date.now();
  tmuxKeys(t, ['-l', text]);
  tmuxKeys(t, ['Enter']);
  return (await arrival(t, text)).ts - t0;
}

/** Each engine's CPU share of one core over the same idle window. */
async function idleCpu(teams: ModeTeam[]): Promise<Map<string, number>> {
  for (const t of teams) await settle(t);
  const before = teams.map((t) => cpuTicks(t.engine.pid!));
  const started = Date.now();
  await sleep(IDLE_S * 1000);
  const seconds = (Date.now() - started) / 1000;
  return new Map(teams.map((t, i) => [t.spec.key, ((cpuTicks(t.engine.pid!) - before[i]!) / 100 / seconds) * 100]));
}

interface ClaudeHooks {
  version: string;
  withMessage: number[];
  toolRound: number[];
  paths: string[];
  /** Trigger file landed -> the engine queued the message. */
  ingest: number[];
  /** Messages that missed their turn (queued after its last hook): hooks-only delivery waits for the next turn. */
  missed: number;
}

/**
 * Real Claude Code with `delivery "hooks"`: each round the user submits a prompt, the stand-in
 * answers it with a Bash echo; in message rounds the trigger file lands as that request arrives.
 * With message: file landed -> the request carrying the text. Without: that prompt's request -> the
 * request with the tool's result (one plain tool round).
 */
async function claudeHooks(rounds: number): Promise<ClaudeHooks> {
  let drop: { nonce: string; body: string } | null = null;
  let dropped = 0;
  let root = '';
  const e = await ClaudeE2E.create(
    (req) => {
      if (hasToolResult(req)) return { text: 'ok' };
      if (drop && newText(req).includes(`go ${drop.nonce}`)) dropped = dropTrigger(root, drop.body, 'cc');
      return newText(req).includes('go ') ? { toolUse: { name: 'Bash', input: { command: 'echo bench', description: 'echo' } } } : { text: 'ok' };
    },
    { committedSettings: { permissions: { allow: ['Bash(echo:*)'] } }, delivery: 'hooks' },
  );
  root = e.root;
  const out: ClaudeHooks = { version: spawnSync(claudeBin, ['--version'], { encoding: 'utf8' }).stdout.trim(), withMessage: [], toolRound: [], paths: [], ingest: [], missed: 0 };
  let store: MessageStore | null = null;
  try {
    await e.up();
    await e.cli.ok(['daemon', 'start']);
    store = await openSqliteStore(e.cli.dbPath, { busyRetryMs: 5_000 });
    const db = store;
    for (let i = 0; i < rounds * 2; i++) {
      await waitFor('cc idle', async () => (await db.getAgent('cc'))?.state === 'idle', 60_000, 20);
      await e.waitForPrompt();
      await sleep(1_000);
      const nonce = randomBytes(4).toString('hex');
      const withMessage = i % 2 === 0;
      drop = withMessage ? { nonce, body: `claude hooks bench ${nonce}` } : null;
      const before = e.mainRequests().length;
      await e.submit(`go ${nonce}`);
      const prompt = await waitFor(
        'the prompt request',
        () =>
          e
            .mainRequests()
            .slice(before)
            .find((r) => newText(r).includes(`go ${nonce}`)),
        30_000,
        2,
      );
      if (withMessage) {
        const body = drop!.body;
        const req = await waitFor(
          'the request carrying the message',
          () =>
            e
              .mainRequests()
              .slice(before)
              .find((r) => r !== prompt && newText(r).includes(body)),
          15_000,
          2,
        ).catch(() => null);
        const queued = (await db.list({ agent: 'cc', states: ['queued', 'leased', 'delivered', 'confirmed'], limit: 20, order: 'recent' })).find((m) => m.body === body);
        out.ingest.push(queued ? queued.createdAt - dropped : NaN);
        if (req) {
          out.withMessage.push(req.at - dropped);
          out.paths.push(hasToolResult(req) ? 'beside the tool result' : 'end of turn');
        } else out.missed++;
      } else {
        const req = await waitFor('the tool result request', () => e.mainRequests().slice(before).find(hasToolResult), 30_000, 2);
        out.toolRound.push(req.at - prompt.at);
      }
    }
    return out;
  } catch (err) {
    console.error(e.diagnostics());
    throw err;
  } finally {
    await e.cli.run(['daemon', 'stop']).catch(() => undefined);
    await store?.close().catch(() => undefined);
    await e.cleanup();
  }
}

const fmt = (ms: number) => (Number.isFinite(ms) ? `${Math.round(ms)} ms` : '-');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(1)}×` : '-');

function table(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  rows.forEach((r, i) => {
    console.log(`| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`);
    if (i === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  });
}

async function main(): Promise<void> {
  console.log(`delivery bench; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; node ${process.version}; ${ROUNDS} rounds per mode; demo turn ${WORK_MS} ms; load ${load()}`);
  const teams: ModeTeam[] = [];
  const results = new Map<string, ModeRound[]>(MODES.map((m) => [m.key, []]));
  const anchor: number[] = [];
  let cpu = new Map<string, number>();
  const loadStart = load();
  try {
    for (const spec of MODES) teams.push(await startTeam(spec));
    for (let i = 0; i < ROUNDS; i++) {
      // Rotate the start so no mode always follows the same other one.
      for (let k = 0; k < teams.length; k++) {
        const t = teams[(k + i) % teams.length]!;
        results.get(t.spec.key)!.push(await modeRound(t, i));
      }
      anchor.push(await anchorRound(teams[1]!, i));
    }
    cpu = await idleCpu(teams);
  } finally {
    for (const t of teams) await stopTeam(t);
  }
  const loadModes = load();

  const a50 = percentile(anchor, 50);
  const p = (key: string, q: number) =>
    percentile(
      results.get(key)!.map((r) => r.ms),
      q,
    );
  console.log(`\nenqueue (trigger file renamed into place) -> text in the demo agent's transcript; load ${loadStart} -> ${loadModes}`);
  table([
    ['Feature', ...MODES.map((m) => m.title)],
    ['**Latency** (seed)', ...MODES.map((m) => m.seedLatency)],
    ['**Latency** p50 (hornets)', ...MODES.map((m) => fmt(p(m.key, 50)))],
    ['**Latency** p99 (hornets)', ...MODES.map((m) => fmt(p(m.key, 99)))],
    ['p50 ÷ anchor p50', ...MODES.map((m) => ratio(p(m.key, 50), a50))],
    ['**CPU (idle)** (seed)', ...MODES.map((m) => m.seedCpu)],
    [`**CPU (idle)** engine, ${IDLE_S} s`, ...MODES.map((m) => `${(cpu.get(m.key) ?? NaN).toFixed(1)}%`)],
    ['hornets settings', ...MODES.map((m) => m.settings)],
    [
      'arrived as',
      ...MODES.map((m) => {
        const counts = new Map<string, number>();
        for (const r of results.get(m.key)!) counts.set(r.path, (counts.get(r.path) ?? 0) + 1);
        return [...counts].map(([k, n]) => `${k} ×${n}`).join(', ');
      }),
    ],
  ]);
  console.log(`anchor: send-keys -l text, send-keys Enter into an idle demo pane -> its transcript: p50 ${fmt(a50)}, p99 ${fmt(percentile(anchor, 99))} (${anchor.length} rounds, interleaved)`);
  console.log(
    `hooks: the file lands once a turn is under way; the demo agent runs its tool ${WORK_MS / 2} ms into the turn, so up to that much of the figure is waiting for the agent's next tool round (mid-turn = beside it, stop-feedback = end of turn)`,
  );
  const loadClaude = load();
  const claude = WITH_CLAUDE && claudeRuns() ? await claudeHooks(CLAUDE_ROUNDS) : null;
  if (claude) {
    const w50 = percentile(claude.withMessage, 50);
    const r50 = percentile(claude.toolRound, 50);
    const paths = new Map<string, number>();
    for (const x of claude.paths) paths.set(x, (paths.get(x) ?? 0) + 1);
    console.log(`\nhooks mode on real Claude Code ${claude.version} (delivery "hooks"), ${claude.withMessage.length} + ${claude.toolRound.length} rounds interleaved; load ${loadClaude} -> ${load()}`);
    table([
      ['', 'p50', 'p99', '÷ tool round p50'],
      ['trigger file lands as a Bash round starts -> text in the model request', fmt(w50), fmt(percentile(claude.withMessage, 99)), ratio(w50, r50)],
      ['anchor: the same Bash round, no message (request -> next request)', fmt(r50), fmt(percentile(claude.toolRound, 99)), '1.0×'],
    ]);
    console.log(
      `arrived: ${[...paths].map(([k, n]) => `${k} ×${n}`).join(', ')}${claude.missed ? `; missed their turn (queued after its last hook, wait for the next turn): ${claude.missed}` : ''}; trigger landed -> queued by the engine p50 ${fmt(percentile(claude.ingest, 50))}, p99 ${fmt(percentile(claude.ingest, 99))}; seed's hooks figure: <100ms`,
    );
  } else if (WITH_CLAUDE) console.log('\nreal Claude Code does not run here: its hooks-mode row is left out');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
