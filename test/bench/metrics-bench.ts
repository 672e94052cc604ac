/**
 * `npm run bench:metrics` (issue 15): does Prometheus scraping slow delivery down? One engine (in
 * this process, as `--headless` runs it) with one demo agent on a private tmux server and SQLite.
 * Messages flow one after another (enqueue, wake, wait for the delivery); in alternating blocks a
 * separate scraper process fetches /metrics back to back, 1,000 scrapes in all (far more often
 * than any Prometheus would), or stays idle. Prints delivery latency (enqueue to delivered, as the
 * engine records it) p50/p99 with and without scrapes and their ratio, and the scrape latency
 * p50/p99. The anchor of each figure is the same run's no-scrape blocks.
 *
 * Flags: --scrapes N (default 1000), --messages N per mode (default 200), --blocks N (default 8),
 * --smoke (40 scrapes, 20 messages, 2 blocks: checks the script).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { makeTempDir, numberFlag, parseFlags, percentile, removeDir, sleep } from './bench-util.js';
import { initGitRepo, killServer, randomSocket } from '../helpers/tmux.js';
import { openProject } from '../../src/services/context.js';
import { Daemon } from '../../src/daemon/daemon.js';

const flags = parseFlags(process.argv.slice(2));
const SMOKE = flags.has('smoke');
const SCRAPES = numberFlag(flags, 'scrapes', SMOKE ? 40 : 1000);
const MESSAGES = numberFlag(flags, 'messages', SMOKE ? 20 : 200);
const BLOCKS = numberFlag(flags, 'blocks', SMOKE ? 2 : 8);

/** The scraper: its own process, so its work does not share the engine's event loop. */
const SCRAPER = `
const [url, n] = process.argv.slice(1);
(async () => {
  const ms = [];
  for (let i = 0; i < Number(n); i++) {
    const t = performance.now();
    const res = await fetch(url);
    await res.text();
    if (!res.ok) throw new Error('scrape answered ' + res.status);
    ms.push(performance.now() - t);
  }
  process.stdout.write(JSON.stringify(ms));
})();
`;

function scrape(url: string, n: number): { done: Promise<number[]> } {
  const child = spawn(process.execPath, ['-e', SCRAPER, url, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  return { done: new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`scraper exited ${code}`))))) };
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function main(): Promise<void> {
  const dir = makeTempDir('hornets-metrics-bench-');
  const socket = randomSocket();
  process.env.HORNETS_TMUX_SOCKET = socket;
  initGitRepo(dir);
  writeFileSync(join(dir, 'hornets.json'), JSON.stringify({ project: 'metricsbench', agents: [{ name: 'marie', profile: 'demo' }] }, null, 2));
  const ctx = await openProject({ configPath: join(dir, 'hornets.json') });
  const daemon = new Daemon(ctx, { metricsPort: 0 });
  try {
    await daemon.start();
    const up = await daemon.engine.agents.up();
    if (up.failed.length) throw new Error(`agent did not start: ${up.failed[0]!.error}`);
    const url = `${daemon.metricsServer.url}/metrics`;
    const store = ctx.store;

    async function deliverOne(i: number): Promise<number> {
      const { message } = await store.enqueue({ agent: 'marie', body: `bench message ${i}` });
      daemon.engine.wake('marie');
      for (;;) {
        const m = await store.get(message.id);
        if (m.deliveredAt != null) return m.deliveredAt - m.createdAt;
        await sleep(2);
      }
    }

    // Warm-up: the agent at its prompt, the first deliveries and scrapes out of the way.
    for (let i = 0; i < 5; i++) await deliverOne(-i);
    await scrape(url, 5).done;

    const quiet: number[] = [];
    const scraped: number[] = [];
    const scrapeMs: number[] = [];
    const perBlock = Math.ceil(MESSAGES / (BLOCKS / 2));
    const scrapesPerBlock = Math.ceil(SCRAPES / (BLOCKS / 2));
    let n = 0;
    for (let b = 0; b < BLOCKS; b++) {
      const withScrapes = b % 2 === 1;
      const scraper = withScrapes ? scrape(url, scrapesPerBlock) : null;
      for (let i = 0; i < perBlock; i++) (withScrapes ? scraped : quiet).push(await deliverOne(n++));
      if (scraper) scrapeMs.push(...(await scraper.done));
    }

    const p = (xs: number[], q: number) => percentile(xs, q);
    const load = loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
    console.log(`metrics bench: ${quiet.length} + ${scraped.length} deliveries, ${scrapeMs.length} scrapes of ${url}; load average ${load}`);
    console.log(`delivery latency without scrapes: p50 ${fmt(p(quiet, 50))}, p99 ${fmt(p(quiet, 99))}`);
    console.log(`delivery latency with scrapes:    p50 ${fmt(p(scraped, 50))}, p99 ${fmt(p(scraped, 99))}`);
    console.log(`ratio with/without:               p50 ${(p(scraped, 50) / p(quiet, 50)).toFixed(2)}x, p99 ${(p(scraped, 99) / p(quiet, 99)).toFixed(2)}x`);
    console.log(`scrape latency:                   p50 ${fmt(p(scrapeMs, 50))}, p99 ${fmt(p(scrapeMs, 99))} (${(p(scrapeMs, 50) / p(quiet, 50)).toFixed(2)}x the quiet delivery p50)`);
  } finally {
    await daemon.engine.agents.down({ timeoutMs: 2000 }).catch(() => undefined);
    await daemon.stop();
    await ctx.close();
    await killServer(socket);
    removeDir(dir);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
