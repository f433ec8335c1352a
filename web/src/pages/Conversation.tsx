import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { Api, ApiError, fmtTime, type Chat, type Me, type Message, type Page } from '../api';
import { SEND_KINDS, fmtBytes, kindOf, mediaBody, readBase64, tooLarge, type SendFile, type SendKind } from './Attach';
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

function mediaError(e: unknown): string {
  if (e instanceof ApiError) {
    const d = e.details as { state?: string; reason?: string } | null;
    if (d?.state === 'failed') return 'download failed: ' + (d.reason ?? e.message);
    if (d?.state === 'skipped') return 'not downloaded (skipped: too large, or auto-download is off)';
    if (d?.state === 'missing') return 'the file is missing on the server';
    return e.message;
  }
  return String(e);
}

function isPending(e: unknown): boolean {
  return e instanceof ApiError && (e.details as { state?: string } | null)?.state === 'pending';
}

function fmtSize(n?: number): string {
  return typeof n === 'number' ? fmtBytes(n) : '';
}

/** A received media message: images and stickers inline, audio and video players, documents
 * behind a download button. The file is fetched with the credentials (X-API-Key or the cookie)
 * into a blob: URL; an <img src> pointing at the API would not send the key. */
export function MediaView({ api, m }: { api: Api; m: Message }) {
  const media = m.content?.media;
  const url = m.content?.mediaUrl;
  const kind = media?.kind ?? m.type;
  const inline = kind === 'image' || kind === 'sticker' || kind === 'audio' || kind === 'video';
  const [src, setSrc] = useState<string | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [tries, setTries] = useState(0);
  const [busy, setBusy] = useState(false);
  const pending = isPending(err);
  // While a fetch is on its way, a message.media event for this message is remembered: the
  // answer may be the 404 "pending" the server gave before its download ended (a loaded
  // machine reads that answer after the event), and it must not be the last word.
  const inflight = useRef(false);
  const endedMeanwhile = useRef(false);
  useLive((e) => {
    if (src) return;
    const mine = e.event === 'message.media' && 'data' in e && e.data.messageId === m.id;
    if (inflight.current) { if (mine) endedMeanwhile.current = true; return; }
    if (mine || (pending && e.event === 'poll')) setTries((t) => t + 1);
  });
  useEffect(() => {
    if (!url || !inline || m.status === 'failed') return;
    let live = true;
    let made: string | null = null;
    let again: ReturnType<typeof setTimeout> | undefined;
    inflight.current = true;
    endedMeanwhile.current = false;
    api.mediaBlobUrl(url).then((u) => {
      if (live) { made = u; setSrc(u); setErr(null); } else URL.revokeObjectURL(u);
    }, (e) => {
      if (!live) return;
      setErr(e);
      // still downloading: ask again at once if it ended meanwhile, else after a backoff (1 s
      // doubling, at most 15 s) in case its event is lost (a stream that reconnected)
      if (isPending(e)) again = setTimeout(() => setTries((t) => t + 1), endedMeanwhile.current ? 0 : Math.min(1000 * 2 ** tries, 15000));
    }).finally(() => { if (live) inflight.current = false; });
    return () => { live = false; clearTimeout(again); if (made) URL.revokeObjectURL(made); };
  }, [api, url, inline, m.status, tries]);
  const download = async () => {
    if (!url) return;
    setBusy(true);
    setErr(null);
    try {
      const u = await api.mediaBlobUrl(url);
      const a = document.createElement('a');
      a.href = u;
      a.download = media?.fileName || 'download';
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(u), 60000);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  if (!url) return null;
  const label = media?.fileName || media?.caption || kind;
  let view = null;
  if (m.status === 'failed') view = null;
  else if (!inline)
    view = (
      <button type="button" className="download" onClick={download} disabled={busy} data-media="document">
        ⬇ Download {media?.fileName ?? 'file'}{media?.size ? ` (${fmtSize(media.size)})` : ''}
      </button>
    );
  else if (src && (kind === 'image' || kind === 'sticker'))
    view = <img className={'media ' + kind} src={src} alt={media?.caption || kind} data-media={kind} />;
  else if (src && kind === 'audio') view = <audio controls src={src} data-media="audio" aria-label={label} />;
  else if (src && kind === 'video') view = <video controls src={src} className="media video" data-media="video" aria-label={label} />;
  else if (!err) view = <span className="muted">Loading {kind}…</span>;
  return (
    <div className="media-box">
      {view}
      {m.status === 'failed' && <div className="error" role="alert" data-media-error>{kind} could not be received: {m.reason ?? 'unknown reason'}</div>}
      {err && m.status !== 'failed' ? (
        pending ? <span className="muted">Downloading {kind}…</span>
          : <div className="error" role="alert" data-media-error>{kind}: {mediaError(err)}</div>
      ) : null}
    </div>
  );
}

/** What this tab sent: the file itself, shown from a blob: URL (the server keeps no copy of a
 * sent file once WhatsApp has it, so there is nothing to fetch back). */
export interface LocalMedia { url: string; kind: SendKind; name: string; size: number }

function SentMediaView({ m, local }: { m: Message; local?: LocalMedia }) {
  const media = m.content?.media;
  if (!local) {
    if (!media) return null;
    return <div className="media-box muted" data-sent-media={media.kind}>[{media.kind} sent{media.fileName ? ' ' + media.fileName : ''}{media.size ? `, ${fmtBytes(media.size)}` : ''}; the server keeps no copy]</div>;
  }
  const label = media?.caption || local.name;
  let view;
  if (local.kind === 'image') view = <img className="media image" src={local.url} alt={label} data-media="image" data-sent />;
  else if (local.kind === 'video') view = <video controls src={local.url} className="media video" data-media="video" aria-label={label} data-sent />;
  else if (local.kind === 'audio') view = <audio controls src={local.url} data-media="audio" aria-label={label} data-sent />;
  else view = <a className="download" href={local.url} download={local.name} data-media="document" data-sent>{local.name} ({fmtBytes(local.size)})</a>;
  return <div className="media-box">{view}</div>;
}

export function MessageList({ messages, api, sent }: { messages: Message[]; api?: Api; sent?: Map<string, LocalMedia> }) {
  return (
    <ol className="messages" aria-label="Messages, oldest first">
      {messages.map((m) => {
        const local = sent?.get(m.id);
        const hasMedia = !!m.content?.mediaUrl || (m.direction === 'outbound' && (!!local || !!m.content?.media));
        return (
          <li key={m.id} className={'msg ' + m.direction} data-message={m.id}>
            <div className="meta">{m.direction === 'outbound' ? 'to ' + (m.to ?? m.chat) : 'from ' + (m.from ?? m.chat)}</div>
            {api && m.content?.mediaUrl ? <MediaView api={api} m={m} /> : null}
            {m.direction === 'outbound' && !m.content?.mediaUrl ? <SentMediaView m={m} local={local} /> : null}
            {m.text || !hasMedia ? <div className="body">{m.text ?? <em>[{m.type}]</em>}</div> : null}
            <div className="meta">
              <time dateTime={m.timestamp ?? m.createdAt}>{fmtTime(m.timestamp ?? m.createdAt)}</time>{' '}
              {m.direction === 'outbound' || m.status === 'read' ? <StatusTicks m={m} /> : null}
            </div>
          </li>
        );
      })}
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
  // a file to send: the kind (from its type, changeable), a voice-note toggle for audio; the
  // text box is its caption
  const [file, setFile] = useState<File | null>(null);
  const [kind, setKind] = useState<SendKind>('document');
  const [ptt, setPtt] = useState(false);
  const [sending, setSending] = useState<string | null>(null);
  const [maxBody, setMaxBody] = useState<number | null>(null);
  const [sent, setSent] = useState<Map<string, LocalMedia>>(() => new Map());
  const fileInput = useRef<HTMLInputElement>(null);
  const sentRef = useRef(sent);
  sentRef.current = sent;
  useEffect(() => () => sentRef.current.forEach((l) => URL.revokeObjectURL(l.url)), []);
  useEffect(() => {
    let live = true;
    // the server's MAX_BODY_BYTES; a server that does not say gets WhatsApp's sizes checked only
    api.get<Me>('/api/v1/auth/me').then((me) => { if (live) setMaxBody(me.maxBodyBytes ?? null); }, () => {});
    return () => { live = false; };
  }, [api]);
  const sendFile: SendFile | null = file ? { kind, name: file.name, type: file.type, size: file.size, caption: text, ptt } : null;
  const fileProblem = sendFile ? tooLarge(to.trim(), sendFile, maxBody) : null;
  const dropFile = () => {
    setFile(null);
    setPtt(false);
    if (fileInput.current) fileInput.current.value = '';
  };
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
    if (sending) return;
    setSendError(null);
    const f = file, sf = sendFile;
    if (f && sf && fileProblem) return;
    try {
      let body: Record<string, unknown> = { to: to.trim(), text };
      if (f && sf) {
        setSending(`Reading ${f.name}…`);
        const b64 = await readBase64(f);
        setSending(`Sending ${f.name} (${fmtBytes(f.size)})…`);
        body = mediaBody(to.trim(), sf, b64);
      } else setSending('Sending…');
      const m = await api.post<Message>(`/api/v1/sessions/${id}/messages`, body);
      stick.current = true;
      setText('');
      if (f && sf) {
        const local = { url: URL.createObjectURL(f), kind: sf.kind, name: f.name, size: f.size };
        setSent((old) => new Map(old).set(m.id, local));
        dropFile();
      }
      setMessages((old) => merge(old, [m]));
    } catch (err) {
      setSendError(err);
    } finally {
      setSending(null);
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
          {messages.length === 0 && !error ? <p className="muted">No messages yet.</p> : <MessageList messages={messages} api={api} sent={sent} />}
        </div>
        <ErrorBox error={error} />
        {api.can('operator') ? <form className="sendbox" onSubmit={send}>
          <label htmlFor="send-to">To</label>
          <input id="send-to" inputMode="tel" placeholder="+15551234567" value={to} onChange={(e) => setTo(e.target.value)} required />
          <label htmlFor="send-text">{file ? (kind === 'audio' ? 'Message (not sent with audio)' : 'Caption') : 'Message'}</label>
          <textarea id="send-text" rows={2} value={text} onChange={(e) => setText(e.target.value)} required={!file}
            disabled={!!file && kind === 'audio'}
            onKeyDown={(e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) e.currentTarget.form?.requestSubmit(); }} />
          <input ref={fileInput} id="send-file" type="file" className="sr-only" tabIndex={-1} aria-label="Chosen file"
            onChange={(e) => { const f = e.target.files?.[0] ?? null; setFile(f); if (f) setKind(kindOf(f.type)); setPtt(false); }} />
          {file ? (
            <fieldset className="attachment" data-attachment>
              <legend>{file.name} ({fmtBytes(file.size)})</legend>
              <label htmlFor="send-kind">Send as</label>
              <select id="send-kind" value={kind} onChange={(e) => setKind(e.target.value as SendKind)}>
                {SEND_KINDS.map((k) => <option key={k} value={k}>{k}</option>)}
              </select>
              {kind === 'audio' && <label className="check"><input type="checkbox" checked={ptt} onChange={(e) => setPtt(e.target.checked)} /> Voice note</label>}
              <button type="button" onClick={dropFile}>Remove file</button>
              {fileProblem && <div className="error" role="alert" data-attach-error>{fileProblem}</div>}
            </fieldset>
          ) : null}
          <div className="send-actions">
            <button type="button" onClick={() => fileInput.current?.click()} aria-label="Attach a file (image, video, audio or document)" disabled={!!sending}>Attach file</button>
            {sending && <span className="muted" role="status" data-sending>{sending}</span>}
            <button type="submit" className="primary" disabled={!!sending || !to.trim() || (file ? !!fileProblem : !text)}>Send</button>
          </div>
        </form> : <p className="muted" data-no-sendbox>Your role ({api.role}) may read messages, not send them.</p>}
        <ErrorBox error={sendError} />
      </Card>
    </div>
  );
}
