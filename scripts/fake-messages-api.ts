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

export type Reply = { text: string; stopReason?: 'end_turn' | 'max_tokens' } | { toolUse: { name: string; input: Record<string, unknown>; id?: string }; text?: string };

export type Responder = (req: RecordedRequest, index: number) => Reply | Promise<Reply>;

export interface FakeApi {
  url: string;
  port: number;
  requests: RecordedRequest[];
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

export function replyEvents(reply: Reply, model: string): { event: string; data: unknown }[] {
  const id = `msg_fake_${++counter}`;
  const events: { event: string; data: unknown }[] = [
    {
      event: 'message_start',
      data: { type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } },
    },
  ];
  let index = 0;
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
  events.push({ event: 'message_delta', data: { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 5 } } });
  events.push({ event: 'message_stop', data: { type: 'message_stop' } });
  return events;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeApi(responder: Responder = () => ({ text: 'ok' })): Promise<FakeApi> {
  const requests: RecordedRequest[] = [];
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
      const model = typeof body.model === 'string' ? body.model : 'claude-fake';
      if (body.stream === false) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'msg_fake',
            type: 'message',
            role: 'assistant',
            model,
            content: [{ type: 'text', text: 'text' in reply && reply.text ? reply.text : 'ok' }],
            stop_reason: 'end_turn',
            usage: { input_tokens: 1, output_tokens: 1 },
          }),
        );
        return;
      }
      sse(res, replyEvents(reply, model));
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
