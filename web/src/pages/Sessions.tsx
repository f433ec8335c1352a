import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Api, fmtTime, type Page, type Session } from '../api';
import { Badge, Card, DataTable, ErrorBox } from '../components';
import { useLive } from '../events';
import { Link, navigate } from '../router';

export function useSessions(api: Api) {
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(async () => {
    try {
      const p = await api.get<Page<Session>>('/api/v1/sessions?limit=100');
      setSessions(p.data);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [api]);
  useEffect(() => { load(); }, [load]);
  useLive((e) => { if (e.event === 'poll' || e.event === 'session.status') load(); });
  return { sessions, error, reload: load };
}

export function Sessions({ api }: { api: Api }) {
  const { sessions, error, reload } = useSessions(api);
  const [name, setName] = useState('');
  const [createError, setCreateError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setCreateError(null);
    try {
      const s = await api.post<Session>('/api/v1/sessions', { name: name.trim() });
      setName('');
      await reload();
      navigate('/sessions/' + s.id);
    } catch (err) {
      setCreateError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <h1>Sessions</h1>
      <Card title="New session">
        <form className="row" onSubmit={create}>
          <label htmlFor="new-name">Name</label>
          <input id="new-name" value={name} maxLength={100} required onChange={(e) => setName(e.target.value)} placeholder="Office" />
          <button type="submit" className="primary" disabled={busy || !name.trim()}>Create session</button>
        </form>
        <ErrorBox error={createError} />
      </Card>
      <Card title="All sessions">
        <ErrorBox error={error} />
        {sessions === null ? <p>Loading…</p> : sessions.length === 0 ? <p>No sessions yet: create one above.</p> : (
          <DataTable cols={['Name', 'Status', 'Phone', 'Last seen']}>
                {sessions.map((s) => (
                  <tr key={s.id} data-session={s.id}>
                    <td><Link href={'/sessions/' + s.id}>{s.name}</Link></td>
                    <td><Badge status={s.status} />{s.reason ? <span className="muted"> {s.reason}</span> : null}</td>
                    <td>{s.phone ? '+' + s.phone.replace(/^\+/, '') : '—'}</td>
                    <td>{fmtTime(s.lastSeenAt)}</td>
                  </tr>
                ))}
          </DataTable>
        )}
      </Card>
    </>
  );
}
