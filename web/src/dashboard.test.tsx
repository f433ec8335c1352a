import { describe, expect, it, vi, afterEach } from 'vitest';
import { render, screen, fireEvent, waitFor, cleanup, act } from '@testing-library/react';
import { Api, ApiError, parseSse, type Message, type ServerEvent } from './api';
import { App, SignIn } from './App';
import { Conversation, MediaView, MessageList, StatusTicks, merge } from './pages/Conversation';
import { BarChart } from './pages/Overview';
import { ConfirmButton } from './components';
import { HubContext, type Hub, type Listener } from './events';
import { bodyBytes, kindOf, tooLarge, type SendFile } from './pages/Attach';
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
    // the constraint as the document states it (oneOf of required lists), in its order
    const kinds = (doc.components as { schemas: Record<string, { oneOf: { required: string[] }[] }> })
      .schemas.SendMessageRequest.oneOf.map((x) => x.required.join(' + '));
    expect(kinds).toContain('text');
    expect(sendText.endsWith(`} (exactly one of: ${kinds.join(', ')})`)).toBe(true);
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

type Call = { path: string; method: string; headers: Record<string, string>; body: unknown; credentials?: string };
/** A fetch that answers by "METHOD path-prefix" and records every call. */
function recordingFetch(routes: Record<string, () => Response>) {
  const calls: Call[] = [];
  const f = vi.fn(async (path: RequestInfo | URL, init?: RequestInit) => {
    const p = String(path);
    const method = init?.method ?? 'GET';
    calls.push({ path: p, method, headers: { ...(init?.headers as Record<string, string>) }, body: init?.body ? JSON.parse(String(init.body)) : undefined, credentials: init?.credentials });
    const hit = Object.entries(routes).find(([k]) => `${method} ${p}`.startsWith(k));
    if (!hit) return new Response(JSON.stringify({ error: 'NOT_FOUND', message: 'no such route', details: {} }), { status: 404 });
    return hit[1]();
  }) as unknown as typeof fetch;
  return { f, calls };
}
const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

// waits of the tests below: generous, as the machine may be busy (a build beside them)
const SLOW = { timeout: 10000 };

describe('sign-in by email and password', () => {
  afterEach(() => { vi.unstubAllGlobals(); sessionStorage.clear(); });
  it("wrong password shows the API's message, a locked account says so; then the cookie sign-in sends X-CSRF-Token, never the key or the password, and sign-out calls logout", { timeout: 30000 }, async () => {
    let answer = 0;
    const { f, calls } = recordingFetch({
      'POST /api/v1/auth/login': () => [
        () => json(401, { error: 'INVALID_CREDENTIALS', message: 'wrong email or password', details: {} }),
        () => json(429, { error: 'ACCOUNT_LOCKED', message: 'too many failed sign-ins; try again later', details: { retryAfter: 840 } }, { 'Retry-After': '840' }),
        () => json(200, { user: { id: 'u1', email: 'ops@example.com', displayName: null, role: 'operator' }, csrfToken: 'csrf-abc', expiresAt: '2026-01-01T12:00:00.000Z' }),
      ][answer++](),
      'GET /api/v1/auth/me': () => json(200, { kind: 'user', id: 'u1', role: 'operator', scoped: false, csrfToken: 'csrf-abc' }),
      'GET /api/v1/sessions': () => json(200, { data: [], nextCursor: null }),
      'POST /api/v1/sessions': () => json(403, { error: 'FORBIDDEN', message: 'this needs the operator role', details: { required: 'operator', role: 'viewer' } }),
      'POST /api/v1/auth/logout': () => new Response(null, { status: 204 }),
    });
    vi.stubGlobal('fetch', f);
    render(<App />);
    fireEvent.click(screen.getByRole('tab', { name: 'Email and password' }));
    fireEvent.change(screen.getByLabelText('Email'), { target: { value: 'ops@example.com' } });
    const pw = screen.getByLabelText('Password') as HTMLInputElement;
    fireEvent.change(pw, { target: { value: 'wrong-password' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert', undefined, SLOW)).textContent).toContain('wrong email or password');
    expect(pw.value).toBe(''); // not kept, even in the form
    fireEvent.change(pw, { target: { value: 'wrong-again' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toMatch(/locked.*Try again in 14 min/), SLOW);
    fireEvent.change(pw, { target: { value: 'right-password' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    // the header names the user and the role
    await waitFor(() => expect(document.querySelector('.who')?.textContent).toBe('ops@example.com operator'), SLOW);
    const login = calls.filter((c) => c.path === '/api/v1/auth/login');
    expect(login.map((c) => c.body)).toEqual([
      { email: 'ops@example.com', password: 'wrong-password' },
      { email: 'ops@example.com', password: 'wrong-again' },
      { email: 'ops@example.com', password: 'right-password' },
    ]);
    expect(login.every((c) => !('X-API-Key' in c.headers))).toBe(true);
    // nothing of the password is stored; the CSRF token is, for this tab
    const stored = JSON.stringify({ ...sessionStorage });
    expect(stored).not.toContain('right-password');
    expect(sessionStorage.getItem('yesapp.csrf')).toBe('csrf-abc');
    // a state-changing request carries X-CSRF-Token and no key; a GET does not need the token
    window.history.pushState({}, '', '/sessions');
    window.dispatchEvent(new PopStateEvent('popstate'));
    fireEvent.change(await screen.findByLabelText('Name', undefined, SLOW), { target: { value: 'Office' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create session' }));
    // the API's 403 message is shown
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('this needs the operator role'), SLOW);
    const create = calls.find((c) => c.method === 'POST' && c.path === '/api/v1/sessions')!;
    expect(create.headers['X-CSRF-Token']).toBe('csrf-abc');
    expect(create.headers['X-API-Key']).toBeUndefined();
    expect(create.credentials).toBe('same-origin');
    const get = calls.find((c) => c.method === 'GET' && c.path.startsWith('/api/v1/sessions'))!;
    expect(get.headers['X-CSRF-Token']).toBeUndefined();
    fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    await screen.findByRole('button', { name: 'Sign in' }, SLOW);
    const out = calls.find((c) => c.path === '/api/v1/auth/logout')!;
    expect(out.method).toBe('POST');
    expect(out.headers['X-CSRF-Token']).toBe('csrf-abc');
    expect(sessionStorage.getItem('yesapp.csrf')).toBeNull();
    window.history.pushState({}, '', '/');
  });
  it('a viewer sees no create or send controls', { timeout: 30000 }, async () => {
    const f = jsonFetch({
      '/api/v1/sessions/s1/messages': [200, { data: [msg({ id: 'n', text: 'hello' })], nextCursor: null }],
      '/api/v1/sessions': [200, { data: [], nextCursor: null }],
    });
    render(<Conversation api={new Api('', f, 'c', 'viewer')} id="s1" />);
    await screen.findByText('hello', undefined, SLOW);
    expect(screen.queryByRole('button', { name: 'Send' })).toBeNull();
    expect(screen.getByText(/may read messages, not send them/)).toBeTruthy();
    cleanup();
    render(<Conversation api={new Api('', f, 'c', 'operator')} id="s1" />);
    await screen.findByText('hello', undefined, SLOW);
    expect(screen.getByRole('button', { name: 'Send' })).toBeTruthy();
  });
});

describe('media', () => {
  afterEach(() => vi.unstubAllGlobals());
  const mediaMsg = (over: Partial<Message>, media: Record<string, unknown>) => msg({
    id: 'mm', direction: 'inbound', status: 'received', type: String(media.kind), text: null,
    content: { media: media as never, mediaUrl: '/api/v1/media/mm' }, ...over,
  });
  it('an image is fetched with the key into a blob: URL and shown inline', { timeout: 30000 }, async () => {
    const made: Blob[] = [];
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: (b: Blob) => { made.push(b); return 'blob:test/1'; }, revokeObjectURL: () => {} }));
    const { f, calls } = recordingFetch({ 'GET /api/v1/media/mm': () => new Response(new Uint8Array([137, 80, 78, 71]), { status: 200, headers: { 'Content-Type': 'image/png' } }) });
    render(<MediaView api={new Api('k9', f)} m={mediaMsg({}, { kind: 'image', mimetype: 'image/png', caption: 'a cat' })} />);
    const img = (await screen.findByRole('img', { name: 'a cat' }, SLOW)) as HTMLImageElement;
    expect(img.getAttribute('src')).toBe('blob:test/1');
    expect(calls[0].headers['X-API-Key']).toBe('k9');
    expect(made[0].size).toBe(4);
  });
  // a hub whose events the test sends by hand
  const handHub = () => {
    const ls = new Set<Listener>();
    const hub: Hub = { mode: 'stream', subscribe: (fn) => { ls.add(fn); return () => ls.delete(fn); } };
    return { hub, emit: (e: Parameters<Listener>[0]) => ls.forEach((l) => l(e)) };
  };
  const pendingAnswer = () => json(404, { error: 'MEDIA_NOT_FOUND', message: "the message's media is not downloaded", details: { messageId: 'mm', state: 'pending' } });
  const pngAnswer = () => new Response(new Uint8Array([137, 80, 78, 71]), { status: 200, headers: { 'Content-Type': 'image/png' } });
  it('a pending answer read after the download ended (its message.media event came first) is asked again', { timeout: 30000 }, async () => {
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: () => 'blob:test/2', revokeObjectURL: () => {} }));
    let release: (r: Response) => void = () => {};
    const answers = [() => new Promise<Response>((r) => { release = r; }), async () => pngAnswer()];
    let n = 0;
    const f = vi.fn(async () => answers[Math.min(n++, 1)]()) as unknown as typeof fetch;
    const { hub, emit } = handHub();
    render(<HubContext.Provider value={hub}><MediaView api={new Api('k', f)} m={mediaMsg({}, { kind: 'image', mimetype: 'image/png', caption: 'late' })} /></HubContext.Provider>);
    await waitFor(() => expect(n).toBe(1), SLOW);
    act(() => {
      emit({ id: '9', event: 'message.media', data: { sessionId: 's', messageId: 'other' } });
      emit({ id: '10', event: 'message.media', data: { sessionId: 's', messageId: 'mm' } });
    });
    release(pendingAnswer()); // the 404 the server gave before its download ended, read only now
    const img = (await screen.findByRole('img', { name: 'late' }, SLOW)) as HTMLImageElement;
    expect(img.getAttribute('src')).toBe('blob:test/2');
    expect(n).toBe(2);
  });
  it('a pending media with no event at all is asked again by itself; an event for another message changes nothing', { timeout: 30000 }, async () => {
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: () => 'blob:test/3', revokeObjectURL: () => {} }));
    let n = 0;
    const f = vi.fn(async () => (n++ < 2 ? pendingAnswer() : pngAnswer())) as unknown as typeof fetch;
    const { hub, emit } = handHub();
    render(<HubContext.Provider value={hub}><MediaView api={new Api('k', f)} m={mediaMsg({}, { kind: 'image', mimetype: 'image/png', caption: 'slow' })} /></HubContext.Provider>);
    await screen.findByText('Downloading image…', undefined, SLOW);
    const before = n; // 1, or 2 when this machine was slow enough for the first backoff to pass
    act(() => emit({ id: '11', event: 'message.media', data: { sessionId: 's', messageId: 'other' } }));
    expect(n).toBe(before);
    // 1 s, then 2 s later: the third answer is the file
    const img = (await screen.findByRole('img', { name: 'slow' }, { timeout: 10000 })) as HTMLImageElement;
    expect(img.getAttribute('src')).toBe('blob:test/3');
    expect(n).toBe(3);
  });
  it('a failed media shows its reason; a document gets a download button; a failed download says why', { timeout: 30000 }, async () => {
    const { f } = recordingFetch({ 'GET /api/v1/media/mm': () => json(404, { error: 'MEDIA_NOT_FOUND', message: 'media not downloaded', details: { state: 'failed', reason: 'media: bad mac' } }) });
    const api = new Api('k', f);
    render(<MediaView api={api} m={mediaMsg({ status: 'failed', reason: 'media: bad mac' }, { kind: 'image', mimetype: 'image/png' })} />);
    expect(screen.getByRole('alert').textContent).toContain('image could not be received: media: bad mac');
    cleanup();
    render(<MediaView api={api} m={mediaMsg({}, { kind: 'document', mimetype: 'application/pdf', fileName: 'report.pdf', size: 300000 })} />);
    fireEvent.click(screen.getByRole('button', { name: /Download report\.pdf \(293\.0 KiB\)/ }));
    expect((await screen.findByRole('alert', undefined, SLOW)).textContent).toContain('download failed: media: bad mac');
  });
});

describe('sending a file', () => {
  afterEach(() => vi.unstubAllGlobals());
  const sf = (over: Partial<SendFile>): SendFile => ({ kind: 'image', name: 'a.png', type: 'image/png', size: 1000, caption: '', ptt: false, ...over });
  it("checks the size against WhatsApp's for the kind and the server's body cap, base64 counted", () => {
    const cap = 1048576;
    expect(tooLarge('+15550001', sf({ size: 700000 }), cap)).toBeNull();
    // 800,000 bytes are 1,066,668 of base64: over 1 MiB with the JSON around it
    const why = tooLarge('+15550001', sf({ size: 800000 }), cap)!;
    expect(why).toMatch(/^a\.png is 781\.3 KiB; this server takes files up to about 768\.0 KiB from here \(its MAX_BODY_BYTES is 1\.0 MiB/);
    expect(bodyBytes('+15550001', sf({ size: 3 }))).toBe(JSON.stringify({ to: '+15550001', image: { base64: 'AAAA', mimetype: 'image/png' } }).length);
    expect(tooLarge('+1', sf({ kind: 'image', size: 17 * 1048576 }), null)).toBe('a.png is 17.0 MiB; WhatsApp takes at most 16.0 MiB for an image.');
    expect(tooLarge('+1', sf({ kind: 'video', size: 17 * 1048576 }), null)).toBeNull();
    expect(tooLarge('+1', sf({ size: 0 }), cap)).toBe('a.png is empty.');
    expect(kindOf('audio/ogg')).toBe('audio');
    expect(kindOf('application/pdf')).toBe('document');
    expect(kindOf('image/svg+xml')).toBe('document');
  });
  it('the largest file the cap takes is sent, one byte more is refused', () => {
    const cap = 4096;
    let n = 1;
    while (tooLarge('+15550001', sf({ size: n + 1 }), cap) === null) n++;
    expect(bodyBytes('+15550001', sf({ size: n })) <= cap).toBe(true);
    expect(bodyBytes('+15550001', sf({ size: n + 3 })) > cap).toBe(true);
  });
  const convFetch = (post: (body: Record<string, unknown>) => Response) => recordingFetch({
    'GET /api/v1/auth/me': () => json(200, { kind: 'key', id: 'k', role: 'operator', scoped: false, maxBodyBytes: 1048576 }),
    'GET /api/v1/sessions/s1/chats': () => json(200, { data: [], nextCursor: null }),
    'GET /api/v1/sessions/s1/messages': () => json(200, { data: [], nextCursor: null }),
    'POST /api/v1/sessions/s1/messages': () => post({}),
  });
  it('an image: attached, captioned, sent as base64 with its mimetype, then shown from the local file while pending', { timeout: 30000 }, async () => {
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: () => 'blob:sent/1', revokeObjectURL: () => {} }));
    const bytes = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3, 250]);
    const { f, calls } = convFetch(() => json(202, msg({ id: 'sent1', type: 'image', text: 'look', status: 'pending', content: { media: { kind: 'image', mimetype: 'image/png', size: 12, caption: 'look' } } })));
    render(<Conversation api={new Api('k', f, null, 'operator')} id="s1" />);
    fireEvent.change(screen.getByLabelText('To'), { target: { value: '+15550001' } });
    fireEvent.change(screen.getByLabelText('Chosen file'), { target: { files: [new File([bytes], 'dot.png', { type: 'image/png' })] } });
    expect(screen.getByRole('group', { name: 'dot.png (12 B)' })).toBeTruthy();
    expect((screen.getByLabelText('Send as') as HTMLSelectElement).value).toBe('image');
    expect(screen.queryByLabelText('Voice note')).toBeNull();
    fireEvent.change(screen.getByLabelText('Caption'), { target: { value: 'look' } });
    fireEvent.click(screen.getByRole('button', { name: 'Send' }));
    const img = (await screen.findByRole('img', { name: 'look' }, SLOW)) as HTMLImageElement;
    expect(img.getAttribute('src')).toBe('blob:sent/1');
    const post = calls.find((c) => c.method === 'POST')!;
    expect(post.body).toEqual({ to: '+15550001', image: { base64: btoa(String.fromCharCode(...bytes)), mimetype: 'image/png' }, caption: 'look' });
    expect(screen.getByLabelText('status pending')).toBeTruthy();
    expect(screen.queryByRole('group')).toBeNull(); // the attachment is gone from the form
  });
  it('audio as a voice note has no caption; a file over the cap is refused before anything is sent; a 413 is shown with its message', { timeout: 30000 }, async () => {
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: () => 'blob:sent/2', revokeObjectURL: () => {} }));
    let answer = json(202, msg({ id: 'sent2', type: 'audio', text: null, content: { media: { kind: 'audio', mimetype: 'audio/ogg', ptt: true } } }));
    const { f, calls } = convFetch(() => answer);
    render(<Conversation api={new Api('k', f, null, 'operator')} id="s1" />);
    fireEvent.change(screen.getByLabelText('To'), { target: { value: '+15550001' } });
    const input = screen.getByLabelText('Chosen file');
    // over 1 MiB once in base64: refused here, with the reason
    await waitFor(() => expect(calls.some((c) => c.path === '/api/v1/auth/me')).toBe(true), SLOW);
    fireEvent.change(input, { target: { files: [new File([new Uint8Array(900000)], 'big.pdf', { type: 'application/pdf' })] } });
    expect((await screen.findByRole('alert', undefined, SLOW)).textContent).toMatch(/big\.pdf is 878\.9 KiB; this server takes files up to about/);
    expect((screen.getByRole('button', { name: 'Send' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole('button', { name: 'Remove file' }));
    expect(screen.queryByRole('alert')).toBeNull();
    fireEvent.change(input, { target: { files: [new File([new Uint8Array([79, 103, 103, 83, 0, 2])], 'note.ogg', { type: 'audio/ogg' })] } });
    expect((screen.getByLabelText('Send as') as HTMLSelectElement).value).toBe('audio');
    fireEvent.click(screen.getByLabelText('Voice note'));
    fireEvent.click(screen.getByRole('button', { name: 'Send' }));
    await waitFor(() => expect(document.querySelector('audio[data-sent]')?.getAttribute('src')).toBe('blob:sent/2'), SLOW);
    const post = calls.filter((c) => c.method === 'POST');
    expect(post).toHaveLength(1);
    expect(post[0].body).toEqual({ to: '+15550001', audio: { base64: 'T2dnUwAC', mimetype: 'audio/ogg' }, ptt: true });
    // the server's own refusal, shown as every API error
    answer = json(413, { error: 'MEDIA_TOO_LARGE', message: 'the file is larger than WhatsApp takes', details: { kind: 'document', maxBytes: 10 } });
    fireEvent.change(input, { target: { files: [new File([new Uint8Array([37, 80, 68, 70, 45])], 'r.pdf', { type: 'application/pdf' })] } });
    fireEvent.click(screen.getByRole('button', { name: 'Send' }));
    expect((await screen.findByRole('alert', undefined, SLOW)).textContent).toContain('the file is larger than WhatsApp takes');
    expect(screen.getByRole('group', { name: 'r.pdf (5 B)' })).toBeTruthy(); // kept, to try again
  });
  it('a sent media without its file in this tab says what it was and that the server keeps no copy', () => {
    render(<MessageList messages={[msg({ id: 'o1', type: 'document', text: null, content: { media: { kind: 'document', mimetype: 'application/pdf', size: 2048, fileName: 'r.pdf' } } })]} />);
    expect(document.querySelector('[data-sent-media="document"]')!.textContent).toBe('[document sent r.pdf, 2.0 KiB; the server keeps no copy]');
    expect(screen.queryByText('[document]')).toBeNull();
  });
});
