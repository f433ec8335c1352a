import { useCallback, useEffect, useState } from 'react';
import { Api, ApiError } from '../api';
import { ErrorBox } from '../components';
import { SessionPicker } from './Webhooks';

/** One line of the server's log ring (GET /api/v1/logs): the JSON log object plus its seq. */
export interface LogLine {
  seq: number;
  timestamp: string;
  level: string;
  message: string;
  session?: string;
  [field: string]: unknown;
}

function extra(l: LogLine): string {
  const { seq: _s, timestamp: _t, level: _l, message: _m, ...rest } = l;
  return Object.keys(rest).length ? JSON.stringify(rest) : '';
}

const LEVELS = ['', 'debug', 'info', 'warn', 'error'];

export function Logs({ api }: { api: Api }) {
  const [level, setLevel] = useState('');
  const [sessionId, setSessionId] = useState('');
  const [lines, setLines] = useState<LogLine[] | null>(null);
  const [state, setState] = useState<'ok' | 'unsupported'>('ok');
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(async () => {
    const q = new URLSearchParams({ limit: '200' });
    if (level) q.set('level', level);
    if (sessionId) q.set('sessionId', sessionId);
    try {
      setLines((await api.get<{ data: LogLine[] }>('/api/v1/logs?' + q)).data);
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && e.code === 'NOT_FOUND') setState('unsupported');
      else setError(e);
    }
  }, [api, level, sessionId]);
  useEffect(() => {
    load();
    if (state === 'unsupported') return;
    const t = setInterval(load, 3000);
    return () => clearInterval(t);
  }, [load, state]);
  return (
    <>
      <h1>Logs</h1>
      {state === 'unsupported' ? <p className="notice">Logs need a newer server (it has no <code>GET /api/v1/logs</code>).</p> : (
        <>
          <div className="row filters">
            <label htmlFor="log-level">Level</label>
            <select id="log-level" value={level} onChange={(e) => setLevel(e.target.value)}>
              {LEVELS.map((l) => <option key={l} value={l}>{l ? l + ' and up' : 'all'}</option>)}
            </select>
            <SessionPicker api={api} value={sessionId} onChange={setSessionId} allowAll />
          </div>
          <ErrorBox error={error} />
          {lines === null ? <p>Loading…</p> : lines.length === 0 ? <p>No log lines match.</p> : (
            <ol className="loglines" aria-label="Log lines, newest last">
              {lines.map((l) => (
                <li key={l.seq} className={'lvl-' + l.level} data-level={l.level}>
                  <time dateTime={l.timestamp}>{l.timestamp}</time> <span className="lvl">{l.level}</span> {l.message}{' '}
                  <span className="muted">{extra(l)}</span>
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </>
  );
}
