/**
 * Per-agent hook credentials. Every agent generation gets its own credential, derived from the
 * project's agent key (HMAC), so the engine and the Node fallback verify it with no table of
 * issued tokens: a credential for marie generation 3 is worthless for bob, or for marie's next
 * generation. It reaches the agent only through its pane's environment (HORNETS_HOOK_TOKEN,
 * through a 0600 file, never argv: see services/agents.ts), never through a file agents share.
 *
 * The credential is "<client>.<proof>": the client part goes to the engine, which answers with the
 * proof part. That is the hook client's check that the answer comes from our engine (one that
 * holds the key), not from whatever now holds a stale port, with nothing to compute in bash.
 */
import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createWholeExclusive } from '../util/private-files.js';
import { constantTimeEqual, hmacSha256 } from '../util/sha256.js';

// Loaded only to make a new key, not when this module is: `status`, `send` and `queue list` reach
// this module through the agent services and never need it (node:crypto costs the lean CLI ~6 ms,
// and the hook's Node fallback ~12 ms). A synchronous require: the bundled CLI runs in a vm.Script.
const crypto = (): typeof Crypto => createRequire(import.meta.url)('node:crypto') as typeof Crypto;

/** The environment variable that carries an agent generation's credential. */
export const HOOK_TOKEN_ENV = 'HORNETS_HOOK_TOKEN';
/** Its client half alone, for Claude Code http hooks (daemon.hookTransport "http"), whose headers take a variable whole. */
export const HOOK_CLIENT_ENV = 'HORNETS_HOOK_CLIENT';

/** <state>/agent-key: 32 random bytes (hex), made once per project and kept across engine restarts. */
export function agentKeyFile(stateDir: string): string {
  return join(stateDir, 'agent-key');
}

const KEY_RE = /^[0-9a-f]{64}$/;

/** The key, or null when there is none yet (or it is not one of ours). */
export function readAgentKey(stateDir: string): Buffer | null {
  try {
    const text = readFileSync(agentKeyFile(stateDir), 'utf8').trim();
    return KEY_RE.test(text) ? Buffer.from(text, 'hex') : null;
  } catch {
    return null;
  }
}

/**
 * The project's agent key, created on first use. Created whole or not at all (written to an
 * exclusive temp file, then hard-linked into place, which fails if another process won the race:
 * then its key is the one), so a concurrent `up` and engine start agree on one key.
 */
export function loadOrCreateAgentKey(stateDir: string): Buffer {
  const existing = readAgentKey(stateDir);
  if (existing) return existing;
  const file = agentKeyFile(stateDir);
  // The loser of a race reads the winner's key below.
  createWholeExclusive(file, `${crypto().randomBytes(32).toString('hex')}\n`, 0o600);
  const key = readAgentKey(stateDir);
  if (!key) throw new Error(`${file} does not hold an agent key; remove it and run again`);
  return key;
}

/** HMAC-SHA256 in plain JS (src/util/sha256.ts): checking a credential never loads node:crypto. */
function mac(key: Buffer, purpose: string, agent: string, generation: number): string {
  return hmacSha256(key, Buffer.from(`${purpose}\0${agent}\0${generation}`, 'utf8')).toString('hex');
}

/** The credential of one agent generation: "<client>.<proof>". */
export function agentCredential(key: Buffer, agent: string, generation: number): string {
  return `${mac(key, 'hook-client', agent, generation)}.${serverProof(key, agent, generation)}`;
}

/** What the engine answers an agent's hook with: the second half of that agent's credential. */
export function serverProof(key: Buffer, agent: string, generation: number): string {
  return mac(key, 'hook-server', agent, generation).slice(0, 32);
}

/** Whether `given` (the client part, or the whole credential) is that agent generation's. */
export function verifyAgentCredential(key: Buffer, agent: string, generation: number, given: string): boolean {
  const client = Buffer.from(given.split('.')[0] ?? '');
  const expected = Buffer.from(mac(key, 'hook-client', agent, generation));
  return constantTimeEqual(client, expected);
}

/** A generation as hooks send it: a plain non-negative integer, else null (refused). */
export function parseGeneration(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return null;
  return Number(text);
}
