import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Api, fmtTime, type Delivery, type Page, type Session, type Webhook } from '../api';
import { Card, ConfirmButton, DataTable, ErrorBox } from '../components';
import { useSessions } from './Sessions';

const EVENTS = ['session.status', 'message', 'message.ack'];

function WebhookEditor({ api, id }: { api: Api; id: string }) {
  const [hook, setHook] = useState<Webhook | null | undefined>(undefined);
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState('');
  const [events, setEvents] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const [logs, setLogs] = useState<Delivery[] | null>(null);
  const [logError, setLogError] = useState<unknown>(null);
  const [replayed, setReplayed] = useState('');

  // The session carries its webhook (null when none is set); GET …/webhook
  // would answer 404 for "none", which the browser logs as an error.
  const load = useCallback(async () => {
    try {
      const h = (await api.get<Session>(`/api/v1/sessions/${id}`)).webhook;
      setHook(h);
      setUrl(h?.url ?? '');
      setEvents(h?.events ?? []);
    } catch (e) {
      setError(e);
    }
  }, [api, id]);
  const loadLogs = useCallback(async () => {
    try {
      setLogs((await api.get<Page<Delivery>>(`/api/v1/sessions/${id}/webhook/logs?limit=50`)).data);
      setLogError(null);
    } catch (e) {
      setLogError(e);
    }
  }, [api, id]);
  useEffect(() => { setSaved(''); setError(null); load(); loadLogs(); }, [load, loadLogs]);
  // A delivery is logged after its event went out, so no event announces it:
  // the log is fetched again every 3 s while the page is open.
  useEffect(() => {
    const t = setInterval(loadLogs, 3000);
    return () => clearInterval(t);
  }, [loadLogs]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setSaved('');
    try {
      const body: Record<string, unknown> = { url: url.trim(), events: events.length ? events : null };
      if (secret) body.secret = secret;
      const h = await api.put<Webhook>(`/api/v1/sessions/${id}/webhook`, body);
      setHook(h);
      setSecret('');
      setSaved('Saved.');
    } catch (err) {
      setError(err);
    }
  };
  const remove = async () => {
    setError(null);
    try {
      await api.del(`/api/v1/sessions/${id}/webhook`);
      setSaved('Removed.');
      await load();
    } catch (err) {
      setError(err);
    }
  };
  const replay = async (d: Delivery) => {
    try {
      const r = await api.post<{ eventId: number; queued: number }>(`/api/v1/sessions/${id}/webhook/deliveries/${d.eventId}/retry`);
      setReplayed(`Event ${r.eventId}: ${r.queued} delivery queued again.`);
      loadLogs();
    } catch (err) {
      setLogError(err);
    }
  };
  const toggle = (ev: string) => setEvents((old) => (old.includes(ev) ? old.filter((x) => x !== ev) : [...old, ev]));

  return (
    <>
      <Card title="Webhook">
        {hook === undefined ? <p>Loading…</p> : (
          <form onSubmit={save} className="stack">
            <p className="muted">{hook ? `Set${hook.hasSecret ? ', with a secret' : ', no secret'}.` : 'No webhook set for this session.'}</p>
            <label htmlFor="wh-url">URL</label>
            <input id="wh-url" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/hook" />
            <label htmlFor="wh-secret">Secret (signs each delivery; empty clears it)</label>
            <input id="wh-secret" type="password" autoComplete="off" value={secret} onChange={(e) => setSecret(e.target.value)} />
            <fieldset>
              <legend>Events (none ticked: all)</legend>
              {EVENTS.map((ev) => (
                <label key={ev} className="check"><input type="checkbox" checked={events.includes(ev)} onChange={() => toggle(ev)} /> {ev}</label>
              ))}
            </fieldset>
            <div className="row">
              <button type="submit" className="primary">Save webhook</button>
              {hook && <ConfirmButton label="Remove" danger question="Remove this webhook?" onConfirm={remove} />}
            </div>
            {saved && <p role="status">{saved}</p>}
            <ErrorBox error={error} />
          </form>
        )}
      </Card>
      <Card title="Recent deliveries">
        <ErrorBox error={logError} />
        {replayed && <p role="status">{replayed}</p>}
        {logs === null ? <p>Loading…</p> : logs.length === 0 ? <p>No deliveries yet.</p> : (
          <DataTable cols={['Time', 'Event', 'Status', 'Duration', 'Attempt', 'Error', <span className="sr-only">Actions</span>]}>
                {logs.map((d) => (
                  <tr key={d.id}>
                    <td>{fmtTime(d.createdAt)}</td>
                    <td>{d.event} <span className="muted">#{d.eventId}</span></td>
                    <td><span className={'badge ' + (d.success ? 'ok' : 'bad')}>{d.statusCode || 'no answer'}</span></td>
                    <td>{d.durationMs} ms</td>
                    <td>{d.attempt}</td>
                    <td>{d.error ?? ''}</td>
                    <td><button type="button" onClick={() => replay(d)} aria-label={`Replay event ${d.eventId}`}>Replay</button></td>
                  </tr>
                ))}
          </DataTable>
        )}
      </Card>
    </>
  );
}

export function SessionPicker({ api, value, onChange, allowAll }: { api: Api; value: string; onChange: (v: string) => void; allowAll?: boolean }) {
  const { sessions, error } = useSessions(api);
  useEffect(() => {
    if (!allowAll && !value && sessions?.length) onChange(sessions[0].id);
  }, [sessions, value, allowAll, onChange]);
  return (
    <div className="row">
      <label htmlFor="pick-session">Session</label>
      <select id="pick-session" value={value} onChange={(e) => onChange(e.target.value)}>
        {allowAll && <option value="">All sessions</option>}
        {(sessions ?? []).map((s) => <option key={s.id} value={s.id}>{s.name} ({s.status})</option>)}
      </select>
      <ErrorBox error={error} />
    </div>
  );
}

export function Webhooks({ api }: { api: Api }) {
  const [id, setId] = useState('');
  return (
    <>
      <h1>Webhooks</h1>
      <SessionPicker api={api} value={id} onChange={setId} />
      {id ? <WebhookEditor api={api} id={id} /> : <p>Create a session first.</p>}
    </>
  );
}
