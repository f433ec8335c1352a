import { describe, expect, it, vi, afterEach } from 'vitest';
import { render, screen, fireEvent, waitFor, cleanup } from '@testing-library/react';
import { Api, ApiError, parseSse, type Message, type ServerEvent } from './api';
import { SignIn } from './App';
import { Conversation, StatusTicks, merge } from './pages/Conversation';
import { BarChart } from './pages/Overview';
import { ConfirmButton } from './components';

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
