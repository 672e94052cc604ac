/**
 * A scripted stand-in for the Anthropic Messages API, for end-to-end tests of the real Claude Code
 * CLI offline. Records every request; answers POST /v1/messages with server-sent events produced
 * by a responder function, and `{}` to anything else. Bound to 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  at: number;
  path: string;
  body: Record<string, unknown>;
  /** The whole request as text, for "did X reach the model" checks. */
  text: string;
}

export type Reply =
  | { text: string; stopReason?: 'end_turn' | 'max_tokens' }
  | { toolUse: { name: string; input: Record<string, unknown>; id?: string }; text?: string }
  /** An HTTP error instead of a message (a 429 with rate-limit headers, say). */
  | { error: { status: number; headers?: Record<string, string>; body: unknown } };

export type Responder = (req: RecordedRequest, index: number) => Reply | Promise<Reply>;

/** Token figures of one response: streamed as the API does (input and cache in message_start, the final output count in message_delta). */
export interface UsageFigures {
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
}

/** A response as sent: its message id, whether it answered a main request, and the usage it stated. */
export interface SentResponse {
  id: string;
  main: boolean;
  usage: UsageFigures;
}

export interface FakeApiOptions {
  /** Usage per response (n counts every response, main or side, from 0); default 10 in, 5 out, no cache. */
  usage?: (n: number) => UsageFigures;
}

export interface FakeApi {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Every response sent, with the usage it stated (token-count checks compare against these). */
  responses: SentResponse[];
  /** Requests that carry tools: the agent's own conversation turns, not side calls. */
  mainRequests(): RecordedRequest[];
  setResponder(r: Responder): void;
  close(): Promise<void>;
}

function sse(res: ServerResponse, events: { event: string; data: unknown }[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  for (const e of events) res.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
  res.end();
}

let counter = 0;

const defaultUsage: UsageFigures = { input: 10, output: 5, cacheRead: 0, cacheCreation: 0 };

function startUsage(u: UsageFigures): Record<string, number> {
  const cache: Record<string, number> = u.cacheRead || u.cacheCreation ? { cache_creation_input_tokens: u.cacheCreation, cache_read_input_tokens: u.cacheRead } : {};
  return { input_tokens: u.input, ...cache, output_tokens: 1 };
}

export function replyEvents(reply: Reply, model: string, usage: UsageFigures = defaultUsage, id = `msg_fake_${++counter}`): { event: string; data: unknown }[] {
  const events: { event: string; data: unknown }[] = [
    {
      event: 'message_start',
      data: { type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: startUsage(usage) } },
    },
  ];
  let index = 0;
  if ('error' in reply) throw new Error('an error reply has no events');
  const text = 'toolUse' in reply ? reply.text : reply.text;
  if (text) {
    events.push({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: { type: 'text', text: '' } } });
    events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'text_delta', text } } });
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
    index++;
  }
  let stop: string = 'end_turn';
  if ('toolUse' in reply) {
    const toolId = reply.toolUse.id ?? `toolu_fake_${counter}`;
    events.push({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: { type: 'tool_use', id: toolId, name: reply.toolUse.name, input: {} } } });
    events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(reply.toolUse.input) } } });
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
    stop = 'tool_use';
  } else if (reply.stopReason) stop = reply.stopReason;
  events.push({ event: 'message_delta', data: { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: usage.output } } });
  events.push({ event: 'message_stop', data: { type: 'message_stop' } });
  return events;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeApi(responder: Responder = () => ({ text: 'ok' }), options: FakeApiOptions = {}): Promise<FakeApi> {
  const requests: RecordedRequest[] = [];
  const responses: SentResponse[] = [];
  let respond = responder;
  let mainIndex = 0;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const path = (req.url ?? '/').split('?')[0]!;
      if (req.method !== 'POST' || !path.endsWith('/v1/messages')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        body = {};
      }
      const rec: RecordedRequest = { at: Date.now(), path, body, text: raw };
      requests.push(rec);
      const isMain = Array.isArray(body.tools) && (body.tools as unknown[]).length > 0;
      const reply = isMain ? await respond(rec, mainIndex++) : { text: 'Side request' };
      if ('error' in reply) {
        res.writeHead(reply.error.status, { 'content-type': 'application/json', ...reply.error.headers });
        res.end(JSON.stringify(reply.error.body));
        return;
      }
      const model = typeof body.model === 'string' ? body.model : 'claude-fake';
      const usage = options.usage ? options.usage(responses.length) : defaultUsage;
      const id = `msg_fake_${++counter}`;
      responses.push({ id, main: isMain, usage });
      if (body.stream === false) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id,
            type: 'message',
            role: 'assistant',
            model,
            content: [{ type: 'text', text: 'text' in reply && reply.text ? reply.text : 'ok' }],
            stop_reason: 'end_turn',
            usage: { ...startUsage(usage), output_tokens: usage.output },
          }),
        );
        return;
      }
      sse(res, replyEvents(reply, model, usage, id));
    })().catch(() => {
      res.writeHead(500);
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
    mainRequests: () => requests.filter((r) => Array.isArray(r.body.tools) && (r.body.tools as unknown[]).length > 0),
    setResponder: (r) => {
      respond = r;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
