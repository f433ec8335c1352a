import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Api, ApiError, fmtTime, type Sandbox, type Session } from '../api';
import { Badge, Card, ConfirmButton, ErrorBox, QrImage } from '../components';
import { useLive } from '../events';
import { navigate } from '../router';
import { Conversation } from './Conversation';

function PairCode({ api, id }: { api: Api; id: string }) {
  const [phone, setPhone] = useState('');
  const [code, setCode] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setCode(null);
    try {
      const r = await api.post<{ code: string }>(`/api/v1/sessions/${id}/pair-code`, { phoneNumber: phone.trim() });
      setCode(r.code);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="paircode" onSubmit={submit}>
      <h3>Or link with a pair code</h3>
      <label htmlFor="pair-phone">Phone number of the phone to link (E.164)</label>
      <div className="row">
        <input id="pair-phone" inputMode="tel" placeholder="+14155550123" value={phone} onChange={(e) => setPhone(e.target.value)} required />
        <button type="submit">Get pair code</button>
      </div>
      {code && <p className="paircode-value" aria-live="polite">Code: <strong>{code}</strong> — on the phone: WhatsApp › Linked devices › Link a device › Link with phone number instead.</p>}
      <ErrorBox error={error} />
    </form>
  );
}

function SandboxScan({ api, id, onDone }: { api: Api; id: string; onDone: () => void }) {
  const [phone, setPhone] = useState('+15550001111');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const scan = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.post('/api/v1/sandbox/scan', { sessionId: id, phone: phone.trim() });
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="sandbox" onSubmit={scan}>
      <h3>Sandbox</h3>
      <label htmlFor="sim-phone">Simulated phone number</label>
      <div className="row">
        <input id="sim-phone" inputMode="tel" value={phone} onChange={(e) => setPhone(e.target.value)} required />
        <button type="submit" className="primary" disabled={busy}>Scan with the simulated phone</button>
      </div>
      <ErrorBox error={error} />
    </form>
  );
}

export function SessionDetail({ api, id }: { api: Api; id: string }) {
  const [s, setS] = useState<Session | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [sandbox, setSandbox] = useState(false);
  const load = useCallback(async () => {
    try {
      setS(await api.get<Session>(`/api/v1/sessions/${id}`));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [api, id]);
  useEffect(() => { load(); }, [load]);
  useEffect(() => {
    api.get<Sandbox>('/api/v1/sandbox').then((r) => setSandbox(!!r.enabled)).catch(() => setSandbox(false));
  }, [api]);
  useLive((e) => {
    if (e.event === 'poll' || (e.event === 'session.status' && 'data' in e && e.data.sessionId === id)) load();
  });
  // A QR rotates every 20-60 s; the stream announces status changes, not new
  // refs, so while one is shown the session is also fetched every 5 s.
  useEffect(() => {
    if (s?.status !== 'qr' && s?.status !== 'pending') return;
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, [s?.status, load]);

  const act = async (what: 'logout' | 'restart' | 'delete') => {
    setActionError(null);
    try {
      if (what === 'delete') {
        await api.del(`/api/v1/sessions/${id}`);
        navigate('/sessions');
        return;
      }
      setS(await api.post<Session>(`/api/v1/sessions/${id}/${what}`));
    } catch (e) {
      setActionError(e);
    }
  };

  if (error) return <><h1>Session</h1><ErrorBox error={error} /></>;
  if (!s) return <p>Loading…</p>;
  const linked = ['connected', 'connecting', 'disconnected'].includes(s.status);
  return (
    <>
      <h1>{s.name} <Badge status={s.status} /></h1>
      <dl className="facts">
        <div><dt>Phone</dt><dd>{s.phone ? '+' + s.phone.replace(/^\+/, '') : '—'}</dd></div>
        <div><dt>Reason</dt><dd>{s.reason ?? '—'}</dd></div>
        <div><dt>Last seen</dt><dd>{fmtTime(s.lastSeenAt)}</dd></div>
        <div><dt>Created</dt><dd>{fmtTime(s.createdAt)}</dd></div>
        <div><dt>Id</dt><dd><code>{s.id}</code></dd></div>
      </dl>
      <div className="actions">
        <ConfirmButton label="Logout" question="Unlink this device from the phone?" onConfirm={() => act('logout')} />
        <button type="button" onClick={() => act('restart')}>Restart</button>
        <ConfirmButton label="Delete" danger question="Delete this session, its messages and webhook log?" onConfirm={() => act('delete')} />
      </div>
      <ErrorBox error={actionError} />
      {s.status === 'qr' && s.qrCode && (
        <Card title="Link a phone">
          <div className="link-grid">
            <div>
              <QrImage load={() => api.qrUrl(id)} version={s.qrCode} />
              <p className="hint">WhatsApp › Settings › Linked devices › Link a device, then point the phone at this code. It refreshes by itself.</p>
            </div>
            <div>
              <PairCode api={api} id={id} />
              {sandbox && <SandboxScan api={api} id={id} onDone={load} />}
            </div>
          </div>
        </Card>
      )}
      {s.status === 'pending' && <p aria-live="polite">Starting… the QR code appears in a moment.</p>}
      {s.status === 'passkey_required' && (
        <Card title="Passkey step">
          <p>WhatsApp asks this account to confirm its passkey before the device is linked. On the phone, confirm the request{ s.confirmationCode ? <> showing the code <strong>{s.confirmationCode}</strong></> : null}; the assertion is posted to <code>POST /api/v1/sessions/{'{id}'}/passkey</code> and confirmed with <code>…/passkey/confirm</code> (see docs/passkey.md).</p>
        </Card>
      )}
      {linked ? <Conversation api={api} id={id} /> : null}
    </>
  );
}

export { ApiError };
