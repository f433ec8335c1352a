import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { Api, ApiError, fmtTime, type Chat, type Message, type Page } from '../api';
import { Card, ErrorBox } from '../components';
import { useLive } from '../events';

const TICKS: Record<string, { mark: string; label: string }> = {
  pending: { mark: '🕓', label: 'pending' },
  sent: { mark: '✓', label: 'sent' },
  delivered: { mark: '✓✓', label: 'delivered' },
  read: { mark: '✓✓', label: 'read' },
  failed: { mark: '⚠', label: 'failed' },
  received: { mark: '', label: 'received' },
};

export function StatusTicks({ m }: { m: Message }) {
  const t = TICKS[m.status] ?? { mark: '?', label: m.status };
  const label = m.status === 'failed' && m.reason ? `failed: ${m.reason}` : t.label;
  return (
    <span className={'ticks ' + m.status} aria-label={'status ' + label} title={label} data-status={m.status}>
      {t.mark}{m.status === 'failed' && m.reason ? ' ' + m.reason : ''}
    </span>
  );
}

export function MessageList({ messages }: { messages: Message[] }) {
  return (
    <ol className="messages" aria-label="Messages, oldest first">
      {messages.map((m) => (
        <li key={m.id} className={'msg ' + m.direction} data-message={m.id}>
          <div className="meta">{m.direction === 'outbound' ? 'to ' + (m.to ?? m.chat) : 'from ' + (m.from ?? m.chat)}</div>
          <div className="body">{m.text ?? <em>[{m.type}]</em>}</div>
          <div className="meta">
            <time dateTime={m.timestamp ?? m.createdAt}>{fmtTime(m.timestamp ?? m.createdAt)}</time>{' '}
            {m.direction === 'outbound' || m.status === 'read' ? <StatusTicks m={m} /> : null}
          </div>
        </li>
      ))}
    </ol>
  );
}

function peerOf(m: Message): string {
  return (m.direction === 'outbound' ? m.to : m.from) ?? m.chat ?? '';
}

// Statuses only move forward (docs/api.md): a stale copy never replaces a newer one.
const RANK: Record<string, number> = { pending: 0, sent: 1, received: 1, delivered: 2, read: 3, failed: 4 };

export function merge(a: Message[], b: Message[]): Message[] {
  const byId = new Map<string, Message>();
  for (const m of [...a, ...b]) {
    const old = byId.get(m.id);
    if (!old || (RANK[m.status] ?? 0) >= (RANK[old.status] ?? 0)) byId.set(m.id, m);
  }
  return [...byId.values()].sort((x, y) => {
    const tx = x.timestamp ?? x.createdAt, ty = y.timestamp ?? y.createdAt;
    return tx < ty ? -1 : tx > ty ? 1 : x.id < y.id ? -1 : 1;
  });
}

export function Conversation({ api, id }: { api: Api; id: string }) {
  const [chats, setChats] = useState<Chat[] | null>(null);
  const [chatsState, setChatsState] = useState<'loading' | 'ok' | 'unsupported' | 'error'>('loading');
  const [chatsError, setChatsError] = useState<unknown>(null);
  const [chat, setChat] = useState<string | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [older, setOlder] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [to, setTo] = useState('');
  const [text, setText] = useState('');
  const [sendError, setSendError] = useState<unknown>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  const base = `/api/v1/sessions/${id}/messages?limit=50` + (chat ? '&chat=' + encodeURIComponent(chat) : '');
  const loadChats = useCallback(async () => {
    try {
      const p = await api.get<Page<Chat>>(`/api/v1/sessions/${id}/chats?limit=100`);
      setChats(p.data);
      setChatsState('ok');
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && e.code === 'NOT_FOUND') setChatsState('unsupported');
      else { setChatsState('error'); setChatsError(e); }
    }
  }, [api, id]);
  const loadLatest = useCallback(async () => {
    try {
      const p = await api.get<Page<Message>>(base);
      setMessages((old) => merge(old, p.data));
      setOlder((o) => (o === null && p.nextCursor ? p.nextCursor : o));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [api, base]);
  useEffect(() => { setMessages([]); setOlder(null); stick.current = true; loadLatest(); }, [loadLatest]);
  useEffect(() => { loadChats(); }, [loadChats]);
  useLive((e) => {
    if (e.event === 'poll' || (('data' in e) && e.data.sessionId === id && e.event.startsWith('message'))) {
      loadLatest();
      if (chatsState === 'ok') loadChats();
    }
  });
  useEffect(() => {
    const el = scroller.current;
    if (stick.current && el) el.scrollTop = el.scrollHeight; // newest at the bottom
  }, [messages]);
  useEffect(() => {
    if (!to && messages.length) setTo(peerOf(messages[messages.length - 1]));
  }, [messages, to]);

  const loadOlder = async () => {
    if (!older) return;
    stick.current = false;
    try {
      const p = await api.get<Page<Message>>(base + '&cursor=' + encodeURIComponent(older));
      setMessages((old) => merge(old, p.data));
      setOlder(p.nextCursor);
    } catch (e) {
      setError(e);
    }
  };
  const send = async (e: FormEvent) => {
    e.preventDefault();
    setSendError(null);
    try {
      const m = await api.post<Message>(`/api/v1/sessions/${id}/messages`, { to: to.trim(), text });
      stick.current = true;
      setText('');
      setMessages((old) => merge(old, [m]));
    } catch (err) {
      setSendError(err);
    }
  };
  const pick = (c: Chat) => {
    setChat(c.chat);
    setTo(c.phone ?? c.chat);
  };

  return (
    <div className="conversation-grid">
      <Card title="Chats">
        {chatsState === 'loading' && <p>Loading…</p>}
        {chatsState === 'unsupported' && <p className="notice">Chats need a newer server (it has no <code>GET /api/v1/sessions/{'{id}'}/chats</code>). All messages of the session are shown instead.</p>}
        {chatsState === 'error' && <ErrorBox error={chatsError} />}
        {chatsState === 'ok' && chats && (
          chats.length === 0 ? <p>No chats yet.</p> : (
            <ul className="chats">
              <li><button type="button" aria-pressed={chat === null} onClick={() => setChat(null)}>All messages</button></li>
              {chats.map((c) => (
                <li key={c.chat}>
                  <button type="button" aria-pressed={chat === c.chat} onClick={() => pick(c)}>
                    <strong>{c.name ?? c.phone ?? c.chat}</strong>{c.unread ? <span className="badge warn">{c.unread}</span> : null}
                    <span className="muted">{c.lastMessage?.text ?? ''}</span>
                  </button>
                </li>
              ))}
            </ul>
          )
        )}
      </Card>
      <Card title="Conversation">
        <div className="scroll" ref={scroller} onScroll={(e) => { const el = e.currentTarget; stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40; }}>
          {older && <button type="button" className="older" onClick={loadOlder}>Load older messages</button>}
          {messages.length === 0 && !error ? <p className="muted">No messages yet.</p> : <MessageList messages={messages} />}
        </div>
        <ErrorBox error={error} />
        <form className="sendbox" onSubmit={send}>
          <label htmlFor="send-to">To</label>
          <input id="send-to" inputMode="tel" placeholder="+15551234567" value={to} onChange={(e) => setTo(e.target.value)} required />
          <label htmlFor="send-text">Message</label>
          <textarea id="send-text" rows={2} value={text} onChange={(e) => setText(e.target.value)} required
            onKeyDown={(e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) e.currentTarget.form?.requestSubmit(); }} />
          <button type="submit" className="primary" disabled={!text || !to.trim()}>Send</button>
        </form>
        <ErrorBox error={sendError} />
      </Card>
    </div>
  );
}
