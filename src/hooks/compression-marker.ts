/**
 * Telling from a Gemini CLI BeforeModel payload that its history was compressed. Gemini 0.61.0 has
 * no hook after a compression (PreCompress fires before every turn's model call, before it decides
 * whether to compress), but a compressed history has a fixed shape: its ChatCompressionService puts
 * the summary in a user turn, then a model turn that says exactly COMPRESSION_ACK, then what it kept;
 * the request merges the summary into the first user turn with the environment context. BeforeModel's
 * `llm_request.messages` (text parts only, one message per turn) shows both. Each compression writes a
 * new summary, so the text up to the acknowledgement names one compression.
 */
import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';

// Loaded only when a history turns out to be compressed, not with this module: every hook event of
// the Node fallback loads the module, and node:crypto costs it ~12 ms (test/integration/hook-entry-cache.test.ts).
const crypto = (): typeof Crypto => createRequire(import.meta.url)('node:crypto') as typeof Crypto;

/** The model turn Gemini writes after the summary (packages/core ChatCompressionService, 0.61.0). */
export const GEMINI_COMPRESSION_ACK = 'Got it. Thanks for the additional context!';

/**
 * Where the acknowledgement may sit: after the summary merged into the environment context
 * (index 1, as sent), or after the two as separate turns (index 2).
 */
const MAX_ACK_INDEX = 2;

interface HookMessage {
  role: string;
  content: string;
}

function messagesOf(payload: Record<string, unknown>): HookMessage[] | null {
  const request = payload.llm_request;
  if (request === null || typeof request !== 'object') return null;
  const messages = (request as { messages?: unknown }).messages;
  if (!Array.isArray(messages)) return null;
  const out: HookMessage[] = [];
  for (const m of messages.slice(0, MAX_ACK_INDEX + 1) as unknown[]) {
    if (m === null || typeof m !== 'object') return null;
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || typeof content !== 'string') return null;
    out.push({ role, content });
  }
  return out;
}

/**
 * The fingerprint of the compression whose summary opens this request's history, or null when the
 * history was never compressed (or the payload is not a BeforeModel request).
 */
export function compressionFingerprint(payload: Record<string, unknown>): string | null {
  const messages = messagesOf(payload);
  if (!messages) return null;
  const ack = messages.findIndex((m) => m.role === 'model');
  if (ack < 1 || messages[ack]!.content !== GEMINI_COMPRESSION_ACK) return null;
  const summary = messages.slice(0, ack);
  return crypto().createHash('sha256').update(JSON.stringify(summary)).digest('hex').slice(0, 32);
}
