import { describe, expect, it, vi, afterEach } from 'vitest';
import { render, screen, fireEvent, waitFor, cleanup } from '@testing-library/react';
import { Api, ApiError, parseSse, type Message, type ServerEvent } from './api';
import { SignIn } from './App';
import { Conversation, StatusTicks, merge } from './pages/Conversation';
import { BarChart } from './pages/Overview';
import { ConfirmButton } from './components';
import { ApiReference, groupByTag, schemaText, type OpenApiDoc } from './pages/ApiReference';
// the server's real document (src/api/openapi.json), as GET /api/v1/openapi.json serves it
import realDocJson from '../../src/api/openapi.json';

afterEach(cleanup);

const msg = (over: Partial<Message>): Message => ({
  id: 'm1', sessionId: 's', direction: 'outbound', from: '+1', to: '+2', chat: '2@s.whatsapp.net', type: 'text',
  text: 'hi', status: 'pending', reason: null, timestamp: '2026-01-01T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z',
  ...over,
});

function jsonFetch(routes: Record<string, [number, unknown]>) {
  return vi.fn(async (path: RequestInfo | URL) => {
    const p = String(path);
    const hit = Object.entries(routes).find(([k]) => p.startsWith(k));
    if (!hit) return new Response(JSON.stringify({ error: 'NOT_FOUND', message: 'no such route', details: {} }), { status: 404 });
    return new Response(JSON.stringify(hit[1][1]), { status: hit[1][0] });
  }) as unknown as typeof fetch;
}

describe('Api', () => {
  it('throws the server error with its message and code, and sends the key as a header', async () => {
    const f = jsonFetch({ '/api/v1/sessions': [401, { error: 'UNAUTHORIZED', message: 'invalid API key', details: {} }] });
    const api = new Api('k1', f);
    const err = (await api.get('/api/v1/sessions').catch((e: ApiError) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.message).toBe('invalid API key');
    expect(err.code).toBe('UNAUTHORIZED');
    const init = (f as unknown as ReturnType<typeof vi.fn>).mock.calls[0][1];
    expect(init.headers['X-API-Key']).toBe('k1');
  });
});

describe('parseSse', () => {
  it('splits blocks, skips comments, keeps a partial block for later', () => {
    const out: ServerEvent[] = [];
    const rest = parseSse(': heartbeat\n\nid: 4\nevent: session.status\ndata: {"sessionId":"a","status":"qr"}\n\nid: 5\nevent: mess', out);
    expect(out).toEqual([{ id: '4', event: 'session.status', data: { sessionId: 'a', status: 'qr' } }]);
    expect(rest).toBe('id: 5\nevent: mess');
    const more = parseSse(rest + 'age\ndata: {"sessionId":"b"}\n\n', out);
    expect(more).toBe('');
    expect(out[1]).toEqual({ id: '5', event: 'message', data: { sessionId: 'b' } });
  });
});

describe('messages', () => {
  it('merge keeps the newer status and sorts oldest first', () => {
    const a = msg({ id: 'x', status: 'delivered', timestamp: '2026-01-01T00:00:02.000Z' });
    const stale = msg({ id: 'x', status: 'pending', timestamp: '2026-01-01T00:00:02.000Z' });
    const b = msg({ id: 'y', timestamp: '2026-01-01T00:00:01.000Z' });
    const m = merge([a], [stale, b]);
    expect(m.map((x) => x.id)).toEqual(['y', 'x']);
    expect(m[1].status).toBe('delivered');
  });
  it('ticks show the failure reason', () => {
    render(<StatusTicks m={msg({ status: 'failed', reason: 'not_on_whatsapp' })} />);
    expect(screen.getByLabelText('status failed: not_on_whatsapp').textContent).toContain('not_on_whatsapp');
  });
  it('a server without the chats route says so and still lists messages, newest at the bottom', async () => {
    const f = jsonFetch({
      '/api/v1/sessions/s1/messages': [200, { data: [msg({ id: 'n', text: 'newer', timestamp: '2026-01-01T00:00:09.000Z' }), msg({ id: 'o', text: 'older', timestamp: '2026-01-01T00:00:01.000Z', direction: 'inbound', status: 'received' })], nextCursor: 'c2' }],
    });
    render(<Conversation api={new Api('k', f)} id="s1" />);
    await screen.findByText(/Chats need a newer server/);
    await screen.findByText('newer');
    const items = [...document.querySelectorAll('.msg .body')].map((e) => e.textContent);
    expect(items).toEqual(['older', 'newer']);
    expect(screen.getByRole('button', { name: 'Load older messages' })).toBeTruthy();
    expect((screen.getByLabelText('To') as HTMLInputElement).value).toBe('+2');
  });
});

describe('SignIn', () => {
  it("shows the API's message for a wrong key and signs in with a right one", async () => {
    const done = vi.fn();
    const check = vi.fn(async (k: string) => {
      if (k !== 'good') throw new ApiError(401, 'UNAUTHORIZED', 'invalid API key');
    });
    render(<SignIn check={check} onSignedIn={done} />);
    const input = screen.getByLabelText('API key');
    fireEvent.change(input, { target: { value: 'bad' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toContain('invalid API key');
    expect(done).not.toHaveBeenCalled();
    fireEvent.change(input, { target: { value: 'good' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(done).toHaveBeenCalledWith('good'));
  });
});

describe('ConfirmButton', () => {
  it('acts only after the confirmation', () => {
    const act = vi.fn();
    render(<ConfirmButton label="Delete" question="Really?" onConfirm={act} />);
    fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    expect(act).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    fireEvent.click(screen.getByRole('button', { name: 'Yes, delete' }));
    expect(act).toHaveBeenCalledTimes(1);
  });
});

describe('BarChart', () => {
  it('draws one bar per bucket and direction, scaled to the largest', () => {
    const buckets = [0, 1, 2].map((i) => ({ start: `2026-01-0${i + 1}T00:00:00.000Z`, sent: i * 2, received: 4, failed: 0 }));
    const { container } = render(<BarChart title="Per day" buckets={buckets} label={(b) => b.start.slice(8, 10)} />);
    const sent = [...container.querySelectorAll('rect.sent')].map((r) => Number(r.getAttribute('height')));
    expect(sent.length).toBe(3);
    expect(sent[0]).toBe(0);
    expect(sent[2]).toBeCloseTo(150);
    expect(container.querySelectorAll('rect.received').length).toBe(3);
  });
});

describe('API reference', () => {
  const doc = realDocJson as unknown as OpenApiDoc;
  const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

  it('groups every operation of the real document by its tag, in the order of the tags', () => {
    const groups = groupByTag(doc);
    let n = 0;
    for (const item of Object.values(doc.paths ?? {})) n += METHODS.filter((m) => m in item).length;
    expect(groups.flatMap((g) => g.operations)).toHaveLength(n);
    const tagOrder = (doc.tags ?? []).map((t) => t.name).filter((t) => groups.some((g) => g.tag === t));
    expect(groups.map((g) => g.tag).slice(0, tagOrder.length)).toEqual(tagOrder);
    const send = groups.find((g) => g.tag === 'Messages')!.operations.find((o) => o.method === 'POST' && o.path === '/api/v1/sessions/{id}/messages')!;
    expect(send.operationId).toBe('sendMessage');
    expect(send.parameters.map((p) => `${p.in}:${p.name}`)).toContain('path:id'); // the path item's $ref
    const sendText = schemaText(doc, send.requestBody!.bodies[0].schema);
    expect(sendText).toMatch(/^SendMessageRequest \{\n\s+to: string[^\n]*\n\s+text\?: string/);
    expect(sendText).toMatch(/\} \(exactly one of: text, location, contacts, poll\)$/);
    expect(send.responses.map((r) => r.status)).toEqual(expect.arrayContaining(['202', '400', '401']));
    const bad = send.responses.find((r) => r.status === '400')!;
    const codes = ((doc.components as { schemas: { ErrorCode: { enum: string[] } } }).schemas.ErrorCode.enum).length;
    expect(schemaText(doc, bad.bodies[0].schema)).toContain(`error: ErrorCode (one of ${codes} values)`);
    const spec = groups.flatMap((g) => g.operations).find((o) => o.path === '/api/v1/openapi.json')!;
    expect(spec.public).toBe(true);
    expect(send.public).toBe(false);
  });

  it('schemaText: names and expands refs, stops at a cycle, shows optional, nullable, arrays and enums', () => {
    const d: OpenApiDoc = { components: { schemas: {
      Node: { type: 'object', required: ['id'], additionalProperties: false,
        properties: { id: { type: 'integer', minimum: 1 }, next: { $ref: '#/components/schemas/Node' }, tags: { type: ['array', 'null'], items: { enum: ['a', 'b'] } } } },
    } } };
    expect(schemaText(d, { $ref: '#/components/schemas/Node' })).toBe(
      'Node {\n  id: integer (1..)\n  next?: Node\n  tags?: array of "a" | "b" | null\n}');
  });

  it('renders the fetched document: tags, method and path, and an opened operation\'s parameters and schemas', async () => {
    const f = jsonFetch({ '/api/v1/openapi.json': [200, realDocJson] });
    const { container } = render(<ApiReference api={new Api('k', f)} />);
    await screen.findByRole('heading', { name: 'Messages' });
    expect(screen.getByText(String(doc.info?.version), { exact: false })).toBeTruthy();
    const summaries = [...container.querySelectorAll('details.op > summary')];
    const post = summaries.find((s) => s.textContent?.startsWith('POST /api/v1/sessions/{id}/messages'))!;
    expect(post).toBeTruthy();
    const details = post.parentElement as HTMLDetailsElement;
    expect(details.querySelector('.op-body')).toBeNull(); // closed: nothing rendered yet
    details.open = true;
    fireEvent(details, new Event('toggle'));
    await waitFor(() => expect(details.querySelector('.op-body')).not.toBeNull());
    const body = details.querySelector('.op-body')!;
    expect(body.textContent).toContain('Parameters');
    expect(body.querySelector('td code')?.textContent).toBe('id');
    expect([...body.querySelectorAll('pre.schema')].map((p) => p.textContent).join('\n')).toMatch(/SendMessageRequest \{/);
    expect(body.textContent).toMatch(/202/);
    const call = (f as unknown as ReturnType<typeof vi.fn>).mock.calls[0];
    expect(String(call[0])).toBe('/api/v1/openapi.json');
  });

  it('says so when the server has no document', async () => {
    render(<ApiReference api={new Api('k', jsonFetch({}))} />);
    await screen.findByText(/publishes no OpenAPI document/);
  });
});
