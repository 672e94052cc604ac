/** The retention benchmark's other process: enqueues every 20 ms and reports how long each took. */
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';

async function main(): Promise<void> {
  const store = await openSqliteStore(process.argv[2]!, { optimizeOnClose: false });
  const lat: number[] = [];
  let stop = false;
  process.on('message', () => (stop = true));
  process.send!('ready');
  while (!stop) {
    const t = performance.now();
    await store.enqueue({ agent: 'probe', body: 'probe' });
    lat.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 20));
  }
  await store.close();
  lat.sort((a, b) => a - b);
  process.send!({ n: lat.length, max: lat[lat.length - 1] ?? 0, p99: lat[Math.floor(lat.length * 0.99)] ?? 0 }, () => process.exit(0));
}

void main();
