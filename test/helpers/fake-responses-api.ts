/**
 * A scripted stand-in for the OpenAI Responses API, for end-to-end tests of the real Codex CLI
 * offline (it reaches it through a custom model provider with `wire_api = "responses"`). Records
 * every request; answers POST /v1/responses with server-sent events from a responder function,
 * GET /v1/models with a one-model list, anything else with `{}`. Bound to 127.0.0.1 only.
 *
 * The Codex TUI sends the agent's turns (they carry tools) and side requests without tools: the
 * thread's title (a JSON-schema text format), answered `{"title": …}`, and the summary of a
 * compaction (its prompt says CONTEXT CHECKPOINT COMPACTION), answered with `COMPACTION_SUMMARY`.
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

/** A tool call is Codex's shell tool, `exec_command` with `{cmd}`. */
export type Reply = { text: string } | { exec: { cmd: string }; text?: string };

export type Responder = (req: RecordedRequest, index: number) => Reply | Promise<Reply>;

/** What a response.completed event states as `usage` (cached tokens are part of input, reasoning part of output, as OpenAI counts). */
export interface ResponsesUsage {
  input: number;
  cached: number;
  output: number;
  reasoning: number;
}

/** A response as sent: its id, whether it answered a main request, and the usage it stated. */
export interface SentResponse {
  id: string;
  main: boolean;
  usage: ResponsesUsage;
}

export interface FakeResponsesOptions {
  /** Usage per response (n counts every response, main or side, from 0); default 10 in, 5 out. */
  usage?: (n: number) => ResponsesUsage;
}

const defaultUsage: ResponsesUsage = { input: 10, cached: 0, output: 5, reasoning: 0 };

export interface FakeResponsesApi {
  /** The provider's base_url (ends in /v1). */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Every response sent, with the usage it stated (token-count checks compare against these). */
  responses: SentResponse[];
  /** Requests that carry tools: the agent's own turns, not the title side request. */
  mainRequests(): RecordedRequest[];
  close(): Promise<void>;
}

let counter = 0;

function sseEvents(reply: Reply, model: string, usage: ResponsesUsage = defaultUsage, id = `resp_fake_${++counter}`): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const items: Record<string, unknown>[] = [];
  const base = { id, object: 'response', created_at: Math.floor(Date.now() / 1000), model, status: 'in_progress', output: [] };
  out.push({ type: 'response.created', response: base });
  const text = reply.text;
  if (text) {
    const msgId = `msg_fake_${counter}`;
    const done = { type: 'message', id: msgId, role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] };
    out.push({ type: 'response.output_item.added', output_index: items.length, item: { ...done, status: 'in_progress', content: [] } });
    out.push({ type: 'response.output_text.delta', item_id: msgId, output_index: items.length, content_index: 0, delta: text });
    out.push({ type: 'response.output_item.done', output_index: items.length, item: done });
    items.push(done);
  }
  if ('exec' in reply) {
    const call = { type: 'function_call', id: `fc_fake_${counter}`, call_id: `call_fake_${counter}`, name: 'exec_command', arguments: JSON.stringify(reply.exec), status: 'completed' };
    out.push({ type: 'response.output_item.added', output_index: items.length, item: { ...call, arguments: '', status: 'in_progress' } });
    out.push({ type: 'response.output_item.done', output_index: items.length, item: call });
    items.push(call);
  }
  out.push({
    type: 'response.completed',
    response: {
      ...base,
      status: 'completed',
      output: items,
      usage: {
        input_tokens: usage.input,
        input_tokens_details: { cached_tokens: usage.cached },
        output_tokens: usage.output,
        output_tokens_details: { reasoning_tokens: usage.reasoning },
        total_tokens: usage.input + usage.output,
      },
    },
  });
  return out;
}

function sse(res: ServerResponse, events: Record<string, unknown>[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const e of events) res.write(`event: ${String(e.type)}\ndata: ${JSON.stringify(e)}\n\n`);
  res.end();
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const COMPACTION_SUMMARY = 'SUMMARY-OF-EARLIER-WORK';

export const isCompactionRequest = (req: RecordedRequest): boolean => req.text.includes('CONTEXT CHECKPOINT COMPACTION');

const isMain = (body: Record<string, unknown>) => Array.isArray(body.tools) && (body.tools as unknown[]).length > 0;

export async function startFakeResponsesApi(responder: Responder = () => ({ text: 'ok' }), options: FakeResponsesOptions = {}): Promise<FakeResponsesApi> {
  const requests: RecordedRequest[] = [];
  const responses: SentResponse[] = [];
  let mainIndex = 0;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const path = (req.url ?? '/').split('?')[0]!;
      if (req.method === 'GET' && path.endsWith('/models')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake-model', object: 'model', created: 0, owned_by: 'hornets' }] }));
        return;
      }
      if (req.method !== 'POST' || !path.endsWith('/responses')) {
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
      const main = isMain(body);
      const reply = main ? await responder(rec, mainIndex++) : { text: isCompactionRequest(rec) ? COMPACTION_SUMMARY : JSON.stringify({ title: 'Hornets test' }) };
      const usage = options.usage?.(responses.length) ?? defaultUsage;
      const id = `resp_fake_${++counter}`;
      responses.push({ id, main, usage });
      sse(res, sseEvents(reply, typeof body.model === 'string' ? body.model : 'fake-model', usage, id));
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    responses,
    mainRequests: () => requests.filter((r) => isMain(r.body)),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
