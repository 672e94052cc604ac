/**
 * A scripted stand-in for the Gemini API (generativelanguage v1beta), for end-to-end tests of the
 * real Gemini CLI offline (GOOGLE_GEMINI_BASE_URL points it here). Records every request; answers
 * `POST …/models/<model>:streamGenerateContent?alt=sse` with one server-sent event from a responder
 * function, `:generateContent` (the CLI's side questions: next speaker, loop checks, compression
 * summaries) with a fixed JSON answer, `:countTokens` with a small count, anything else with `{}`.
 * Bound to 127.0.0.1 only.
 *
 * The agent's own turns are the streamed requests that carry tools; side requests carry none.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GeminiRequest {
  at: number;
  path: string;
  body: Record<string, unknown>;
  /** The whole request as text, for "did X reach the model" checks. */
  text: string;
}

/**
 * A tool call is Gemini CLI's shell tool, `run_shell_command` with `{command}`. `promptTokens` is
 * the prompt size the reply's usageMetadata claims (10 when not given): Gemini compresses its
 * history before the next turn when the last one reached half the model's window.
 */
export type GeminiReply = ({ text: string } | { shell: string; text?: string }) & { promptTokens?: number };

export type GeminiResponder = (req: GeminiRequest, index: number) => GeminiReply | Promise<GeminiReply>;

/** What a response's usageMetadata states (cached tokens are part of the prompt count, thoughts apart from candidates, as Gemini counts). */
export interface GeminiUsage {
  prompt: number;
  cached: number;
  candidates: number;
  thoughts: number;
}

/** A response as sent: its id (the stand-in's own; Gemini records its own message ids), whether it answered a main request, and the usage it stated. */
export interface GeminiSentResponse {
  id: string;
  main: boolean;
  usage: GeminiUsage;
}

export interface FakeGeminiOptions {
  /** Usage per streamed response (n counts every streamed response, main or side, from 0); default 10 prompt, 5 candidates. A reply's promptTokens wins over it. */
  usage?: (n: number) => GeminiUsage;
}

export interface FakeGeminiApi {
  /** GOOGLE_GEMINI_BASE_URL. */
  url: string;
  port: number;
  requests: GeminiRequest[];
  /** Every response sent, with the usage it stated (token-count checks compare against these). */
  responses: GeminiSentResponse[];
  /** Streamed requests that carry tools: the agent's own turns. */
  mainRequests(): GeminiRequest[];
  close(): Promise<void>;
}

export const GEMINI_COMPRESSION_SUMMARY = 'SUMMARY-OF-EARLIER-WORK';

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const usage = { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 };

let counter = 0;

function candidate(reply: GeminiReply, stated?: GeminiUsage): Record<string, unknown> {
  const parts: Record<string, unknown>[] = [];
  if (reply.text) parts.push({ text: reply.text });
  if ('shell' in reply) parts.push({ functionCall: { name: 'run_shell_command', args: { command: reply.shell } } });
  let usageMetadata: Record<string, number> =
    reply.promptTokens === undefined ? usage : { ...usage, promptTokenCount: reply.promptTokens, totalTokenCount: reply.promptTokens + usage.candidatesTokenCount };
  if (stated)
    usageMetadata = {
      promptTokenCount: stated.prompt,
      candidatesTokenCount: stated.candidates,
      ...(stated.cached ? { cachedContentTokenCount: stated.cached } : {}),
      ...(stated.thoughts ? { thoughtsTokenCount: stated.thoughts } : {}),
      totalTokenCount: stated.prompt + stated.candidates + stated.thoughts,
    };
  return { candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }], usageMetadata };
}

/** What a sent response's usageMetadata said, as GeminiUsage. */
export function statedUsage(reply: GeminiReply, stated: GeminiUsage | undefined): GeminiUsage {
  if (stated && reply.promptTokens === undefined) return stated;
  return { prompt: reply.promptTokens ?? usage.promptTokenCount, cached: 0, candidates: usage.candidatesTokenCount, thoughts: 0 };
}

const isMain = (body: Record<string, unknown>) => Array.isArray(body.tools) && (body.tools as unknown[]).length > 0;

/**
 * A side question's answer: the compression summary when asked for one (numbered per compression,
 * as a real model writes a new one each time; the check that follows it gets the same), else a
 * JSON "the user speaks next".
 */
function sideAnswerer(): (text: string) => string {
  let compressions = 0;
  return (text) => {
    if (/Generate a new <state_snapshot>|generate the updated <state_snapshot>/.test(text)) compressions++;
    if (/state_snapshot|compress|summar/i.test(text)) return `<state_snapshot>${GEMINI_COMPRESSION_SUMMARY}-${compressions}</state_snapshot>`;
    return JSON.stringify({ reasoning: 'done', next_speaker: 'user' });
  };
}

export async function startFakeGeminiApi(responder: GeminiResponder = () => ({ text: 'ok' }), options: FakeGeminiOptions = {}): Promise<FakeGeminiApi> {
  const requests: GeminiRequest[] = [];
  const responses: GeminiSentResponse[] = [];
  const sideAnswer = sideAnswerer();
  let mainIndex = 0;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const path = (req.url ?? '/').split('?')[0]!;
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw || '{}') as Record<string, unknown>;
      } catch {
        body = {};
      }
      const rec: GeminiRequest = { at: Date.now(), path, body, text: raw };
      if (req.method === 'POST') requests.push(rec);
      if (path.endsWith(':countTokens')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ totalTokens: 10 }));
        return;
      }
      if (path.endsWith(':streamGenerateContent')) {
        const main = isMain(body);
        const reply = main ? await responder(rec, mainIndex++) : { text: sideAnswer(raw) };
        const stated = options.usage?.(responses.length);
        const id = `gresp_fake_${++counter}`;
        const sent = stated && reply.promptTokens !== undefined ? undefined : stated;
        responses.push({ id, main, usage: statedUsage(reply, stated) });
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.end(`data: ${JSON.stringify(candidate(reply, sent))}\r\n\r\n`);
        return;
      }
      if (path.endsWith(':generateContent')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(candidate({ text: sideAnswer(raw) })));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    responses,
    mainRequests: () => requests.filter((r) => r.path.endsWith(':streamGenerateContent') && isMain(r.body)),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
