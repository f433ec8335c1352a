import { useCallback, useEffect, useState } from 'react';
import { Api, ApiError } from '../api';
import { Badge, Card, ErrorBox } from '../components';
import { useLive } from '../events';
import { useSessions } from './Sessions';

export interface Bucket { start: string; sent: number; received: number; failed: number }
export interface Stats {
  sessions: { total: number; byStatus: Record<string, number> };
  messagesToday: { sent: number; received: number; failed: number };
  webhookFailures: number;
  hourly: Bucket[];
  daily: Bucket[];
}

/** Bars of sent (and received) per bucket, drawn as SVG. */
export function BarChart({ title, buckets, label }: { title: string; buckets: Bucket[]; label: (b: Bucket) => string }) {
  const max = Math.max(1, ...buckets.map((b) => Math.max(b.sent, b.received)));
  const w = 600, h = 160, pad = 20;
  const bw = (w - pad) / Math.max(1, buckets.length);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${w} ${h + 20}`} role="img" aria-label={title}>
        <title>{title}</title>
        <line x1={pad} y1={h} x2={w} y2={h} className="axis" />
        <text x={0} y={12} className="tick">{max}</text>
        {buckets.map((b, i) => {
          const hs = (b.sent / max) * (h - 10), hr = (b.received / max) * (h - 10);
          const x = pad + i * bw;
          return (
            <g key={b.start}>
              <rect x={x + 1} y={h - hs} width={Math.max(1, bw / 2 - 1)} height={hs} className="bar sent"><title>{`${label(b)}: ${b.sent} sent`}</title></rect>
              <rect x={x + bw / 2} y={h - hr} width={Math.max(1, bw / 2 - 1)} height={hr} className="bar received"><title>{`${label(b)}: ${b.received} received`}</title></rect>
              {i % Math.ceil(buckets.length / 6) === 0 && <text x={x} y={h + 14} className="tick">{label(b)}</text>}
            </g>
          );
        })}
      </svg>
      <figcaption>{title} <span className="legend sent">sent</span> <span className="legend received">received</span></figcaption>
    </figure>
  );
}

export function Overview({ api }: { api: Api }) {
  const [stats, setStats] = useState<Stats | null>(null);
  const [state, setState] = useState<'loading' | 'ok' | 'unsupported'>('loading');
  const [error, setError] = useState<unknown>(null);
  const { sessions } = useSessions(api);
  const load = useCallback(async () => {
    try {
      setStats(await api.get<Stats>('/api/v1/stats'));
      setState('ok');
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && e.code === 'NOT_FOUND') setState('unsupported');
      else setError(e);
    }
  }, [api]);
  useEffect(() => { load(); }, [load]);
  useLive((e) => { if (state === 'ok' && e.event === 'poll') load(); });

  const counts: Record<string, number> = {};
  (sessions ?? []).forEach((s) => { counts[s.status] = (counts[s.status] ?? 0) + 1; });
  return (
    <>
      <h1>Overview</h1>
      <ErrorBox error={error} />
      <Card title="Sessions by status">
        {stats ? (
          <ul className="counts">{Object.entries(stats.sessions.byStatus).map(([k, v]) => <li key={k}><Badge status={k} /> {v}</li>)}</ul>
        ) : sessions === null ? <p>Loading…</p> : sessions.length === 0 ? <p>No sessions yet.</p> : (
          <ul className="counts">{Object.entries(counts).map(([k, v]) => <li key={k}><Badge status={k} /> {v}</li>)}</ul>
        )}
      </Card>
      {state === 'unsupported' && <p className="notice">Message counts and charts need a newer server (it has no <code>GET /api/v1/stats</code>).</p>}
      {stats && (
        <>
          <div className="tiles">
            <div className="tile"><span>Sent today</span><strong>{stats.messagesToday.sent}</strong></div>
            <div className="tile"><span>Received today</span><strong>{stats.messagesToday.received}</strong></div>
            <div className="tile"><span>Failed today</span><strong>{stats.messagesToday.failed}</strong></div>
            <div className="tile"><span>Webhook failures (24 h)</span><strong>{stats.webhookFailures}</strong></div>
          </div>
          <Card title="Last 24 hours"><BarChart title="Messages per hour" buckets={stats.hourly} label={(b) => new Date(b.start).getHours() + 'h'} /></Card>
          <Card title="Last 30 days"><BarChart title="Messages per day" buckets={stats.daily} label={(b) => b.start.slice(5, 10)} /></Card>
        </>
      )}
    </>
  );
}
