/**
 * The Node hook entry's way to the engine, for a project whose queue is in Redis: there a hook
 * never opens the store itself (only the node's engine holds its address and password), so an
 * event the hook client could not hand to an engine (none listened yet) is handed over from here
 * once one does. `up` starts the agents and the engine side by side, so an agent's SessionStart
 * can come before its node's engine listens; without this the agent would start with no briefing
 * and its first messages would wait for the engine's screen check.
 *
 * The same protocol as the hook clients (native/hornets-hook.c, bin/hornets-hook): the agent
 * generation's client credential, the engine's proof checked before anything is printed, the
 * reply printed whole or not at all, the ack posted only once it is written.
 */
import { readFileSync } from 'node:fs';
import type * as Http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import { endpointFile, pidFile } from '../engine-client/paths.js';
import { pidAlive, readPid } from '../engine-client/pid.js';

export interface HandoverInput {
  home: string;
  event: string;
  /** The hook command's protocol word (which CLI runs the hook), passed on as the clients do. */
  protocolArg?: string | null;
  /** The payload exactly as the agent's CLI gave it. */
  payload: string;
  agent: string;
  generation: number;
  /** HORNETS_HOOK_TOKEN: "<client>.<proof>". */
  credential: string;
  /** Epoch ms after which nothing more is tried (the hook's own deadline comes later). */
  deadline: number;
  /**
   * How long to wait for an engine to appear when none lives at the first look (`up` launches it
   * while the agents start); a live engine that does not listen yet is waited for until `deadline`.
   */
  graceMs: number;
  write: (text: string) => Promise<void>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export type HandoverOutcome = 'handed over' | 'no engine' | 'engine did not answer in time' | 'refused' | 'not proven';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const REPLY_MAX = 16 * 1024 * 1024;

function readPort(home: string): number | null {
  try {
    const port = Number(readFileSync(endpointFile(home), 'utf8').split(/\s+/)[0]);
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : null;
  } catch {
    return null;
  }
}

function engineAlive(home: string): boolean {
  const pid = readPid(pidFile(home));
  return pid !== null && pidAlive(pid);
}

async function post(port: number, path: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<Answer> {
  // Loaded here, on this rare path only, and with a synchronous require: an import() inside the
  // vm.Script bundle the hook entry runs as failed (seen with the bundle's V8 code cache in use),
  // and the hand-over never reached the engine.
  const { request } = createRequire(import.meta.url)('node:http') as typeof Http;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)), connection: 'close' }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > REPLY_MAX) req.destroy(new Error('reply too large'));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

export async function handOverToEngine(i: HandoverInput): Promise<HandoverOutcome> {
  const now = i.now ?? Date.now;
  const sleep = i.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const [client, proof] = i.credential.split('.');
  if (!client || !proof) return 'refused';
  const start = now();
  const headers: Record<string, string> = {
    'x-hornets-token': client,
    'x-hornets-agent': i.agent,
    'x-hornets-generation': String(i.generation),
    ...(i.protocolArg ? { 'x-hornets-protocol': i.protocolArg } : {}),
  };
  let seenEngine = false;
  for (;;) {
    const left = i.deadline - now();
    if (left <= 0) return seenEngine ? 'engine did not answer in time' : 'no engine';
    seenEngine ||= engineAlive(i.home);
    if (!seenEngine && now() - start >= i.graceMs) return 'no engine';
    const port = readPort(i.home);
    if (port !== null) {
      let answer: Answer | null = null;
      try {
        answer = await post(port, `/hook/${i.event}`, { ...headers, 'x-hornets-defer-ack': '1', 'content-type': 'application/json' }, i.payload, Math.min(left, 2_000));
      } catch {
        // Refused (not listening yet, or a stale endpoint) or cut off: look again.
      }
      if (answer) {
        // Whoever holds a stale port must not reach the agent: only our engine knows the proof.
        if (answer.headers['x-hornets-server'] !== proof) return answer.status === 401 ? 'refused' : 'not proven';
        if (answer.status !== 200) return 'refused';
        const length = Number(answer.headers['content-length']);
        if (Number.isInteger(length) && Buffer.byteLength(answer.body) !== length) return 'engine did not answer in time';
        if (answer.body !== '') await i.write(answer.body);
        const ack = answer.headers['x-hornets-ack'];
        // The ack must be in before the agent's next event can confirm what it was handed; lost,
        // the lease lapses and the message comes again.
        if (typeof ack === 'string' && ack !== '') await post(port, '/ack', { ...headers, 'x-hornets-ack': ack }, '', Math.max(1, Math.min(i.deadline - now(), 2_000))).catch(() => undefined);
        return 'handed over';
      }
    }
    await sleep(100);
  }
}
